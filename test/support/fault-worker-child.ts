/**
 * A delivery worker in a process of its own for the fault tests, sized for thousands of attempts
 * in flight to one origin: `node fault-worker-child.ts <database url> <concurrency>`.
 * Prints READY once it fetches; the test kills it with SIGKILL.
 */
import { createDeliverySender } from '../../src/services/delivery.ts';
import { startDeliveryWorker } from '../../src/worker/delivery-worker.ts';
import { startDeliveryHarness } from './delivery-fixtures.ts';

const url = process.argv[2];
const concurrency = Number(process.argv[3] ?? 64);
if (url === undefined) throw new Error('usage: fault-worker-child.ts <database url> <concurrency>');
const h = await startDeliveryHarness({ databaseUrl: url, deliveryTimeoutMs: 10_000, worker: false });
// Every attempt to the one test origin may be in flight at once.
const sender = createDeliverySender(h.deps, concurrency);
await startDeliveryWorker({ ...h.deps, sender }, { concurrency, maxPerOrigin: concurrency, claims: h.claims });
process.stdout.write('READY\n');
