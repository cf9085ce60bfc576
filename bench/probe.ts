/**
 * Preloaded into Orbit's processes by bench/run.ts (`NODE_OPTIONS=--import=./bench/probe.ts`), never
 * by Orbit itself: measures the event loop (utilisation and delay) and writes a snapshot to
 * `<BENCH_PROBE_FILE>.<pid>.json` whenever it receives SIGUSR2, so the bench can read it per phase.
 * Every process that runs Orbit's entry point has one: `orbit serve`'s API and worker children as
 * well as the supervisor (they inherit NODE_OPTIONS).
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

const prefix = process.env['BENCH_PROBE_FILE'];
// Orbit's processes only: the embedded database's launcher inherits NODE_OPTIONS too.
const orbitProcess = /[\\/]src[\\/]main\.ts$/.test(process.argv[1] ?? '');
if (prefix !== undefined && prefix !== '' && orbitProcess) {
  const file = `${prefix}.${process.pid}.json`;
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let elu = performance.eventLoopUtilization();
  process.on('SIGUSR2', () => {
    const used = performance.eventLoopUtilization(elu);
    elu = performance.eventLoopUtilization();
    writeFileSync(
      file,
      JSON.stringify({
        pid: process.pid,
        eventLoopUtilization: used.utilization,
        delayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6, mean: delay.mean / 1e6 },
        // Space sizes (MiB): the young generation (new_space) is where a large RSS often hides.
        heapMiB: Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, Math.round(space.space_size / 2 ** 20)])),
        memoryMiB: Object.fromEntries(Object.entries(process.memoryUsage()).map(([key, value]) => [key, Math.round(value / 2 ** 20)])),
      }),
    );
    delay.reset();
  });
}
