/**
 * A CPU quota for one process, through a cgroup of its own (v1 `cpu` controller or v2 `cpu.max`):
 * how the origin phase gives each worker "its own small core" on a machine with two shared ones.
 * Needs root and a writable cgroup CPU controller; `openCpuQuota` answers the reason when not.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// A short period spreads the quota evenly: with 100 ms a quarter-core worker would run 25 ms, then stall 75.
const PERIOD_US = 10_000;

export interface CpuQuota {
  /** Moves the process (all its threads) into the quota's cgroup. */
  place(pid: number): void;
  /** Removes the cgroup; its processes must have ended (or left) first. */
  remove(): void;
}

interface Layout {
  root: string;
  limit(dir: string, cores: number): void;
}

function layout(): Layout | string {
  const v1 = '/sys/fs/cgroup/cpu';
  if (existsSync(join(v1, 'cpu.cfs_quota_us'))) {
    return {
      root: v1,
      limit(dir, cores) {
        writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
        writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.round(cores * PERIOD_US)));
      },
    };
  }
  const v2 = '/sys/fs/cgroup';
  const controllers = join(v2, 'cgroup.subtree_control');
  if (existsSync(controllers) && readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) {
    return {
      root: v2,
      limit(dir, cores) {
        writeFileSync(join(dir, 'cpu.max'), `${Math.round(cores * PERIOD_US)} ${PERIOD_US}`);
      },
    };
  }
  return 'no cgroup CPU controller to write to (cgroup v1 cpu, or v2 with cpu in the root subtree)';
}

/** A cgroup named `name` limited to `cores` CPUs (0.25: a quarter of one), or why there is none. */
export function openCpuQuota(name: string, cores: number): CpuQuota | string {
  const found = layout();
  if (typeof found === 'string') return found;
  const dir = join(found.root, name);
  try {
    if (!existsSync(dir)) mkdirSync(dir);
    found.limit(dir, cores);
  } catch (error) {
    return `cannot set up cgroup ${dir} (${(error as Error).message}); run as root`;
  }
  return {
    place: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // Still busy (a process that has not quite exited): left for the next run, which reuses it.
      }
    },
  };
}
