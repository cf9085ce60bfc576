/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the process's time went, by area
 * (Orbit's folders, each npm package, Node internals, GC, idle), the top functions by self time,
 * and the top Orbit / library functions by inclusive time (each sample counted once per function
 * on its stack).
 *   node bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function shortUrl(url: string): string {
  let path = url.startsWith('file://') ? url.slice('file://'.length) : url;
  if (path.startsWith(ROOT)) path = path.slice(ROOT.length);
  return path;
}

/** The area a frame belongs to: `src/<folder>`, an npm package, `node:<module>`, or a V8 pseudo-frame. */
function areaOf(frame: CallFrame): string {
  const name = frame.functionName;
  if (frame.url === '') {
    if (name === '(garbage collector)' || name === '(idle)' || name === '(program)' || name === '(root)') return name;
    return '(native / V8)';
  }
  const path = shortUrl(frame.url);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1] as string;
  if (path.startsWith('node:')) return `node:${path.slice(5).split('/')[0]}`;
  const src = /^(src|bench|test)\/([^/]+)/.exec(path);
  if (src) return src[2]?.endsWith('.ts') ? `${src[1]}/${src[2]}` : `${src[1]}/${src[2]}/`;
  return path;
}

function keyOf(frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  if (frame.url === '') return name;
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

export interface ProfileSummary {
  totalMs: number;
  areas: { area: string; ms: number; share: number }[];
  selfTop: { fn: string; ms: number; share: number }[];
  inclusiveTop: { fn: string; ms: number; share: number }[];
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfMs = new Map<number, number>();
  let totalUs = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    totalUs += delta;
    selfMs.set(id, (selfMs.get(id) ?? 0) + delta / 1000);
  });
  const totalMs = totalUs / 1000;

  const areas = new Map<string, number>();
  const selfByFn = new Map<string, number>();
  const inclusiveByFn = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (!node) continue;
    const area = areaOf(node.callFrame);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const key = keyOf(node.callFrame);
    selfByFn.set(key, (selfByFn.get(key) ?? 0) + ms);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame || frame.url === '') continue;
      const fn = keyOf(frame);
      if (seen.has(fn)) continue;
      seen.add(fn);
      inclusiveByFn.set(fn, (inclusiveByFn.get(fn) ?? 0) + ms);
    }
  }
  const ranked = (map: Map<string, number>) =>
    [...map.entries()].sort((a, b) => b[1] - a[1]).map(([name, ms]) => ({ name, ms, share: totalMs === 0 ? 0 : ms / totalMs }));
  return {
    totalMs,
    areas: ranked(areas).map(({ name, ms, share }) => ({ area: name, ms, share })),
    selfTop: ranked(selfByFn)
      .slice(0, top)
      .map(({ name, ms, share }) => ({ fn: name, ms, share })),
    // Inclusive times of our code and libraries only (Node internals would repeat the same stacks).
    inclusiveTop: ranked(inclusiveByFn)
      .filter(({ name }) => !name.includes(' node:'))
      .slice(0, top)
      .map(({ name, ms, share }) => ({ fn: name, ms, share })),
  };
}

const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;

export function formatProfileSummary(title: string, summary: ProfileSummary, top = 25): string {
  const lines: string[] = [];
  lines.push(`#### ${title}: ${(summary.totalMs / 1000).toFixed(1)} s of samples`, '');
  lines.push('| area | ms | share |', '|---|---:|---:|');
  for (const row of summary.areas.slice(0, 18)) lines.push(`| ${row.area} | ${row.ms.toFixed(0)} | ${pct(row.share)} |`);
  lines.push('', '| top self time | ms | share |', '|---|---:|---:|');
  for (const row of summary.selfTop.slice(0, top)) lines.push(`| \`${row.fn}\` | ${row.ms.toFixed(0)} | ${pct(row.share)} |`);
  lines.push('', '| top inclusive time (JS frames) | ms | share |', '|---|---:|---:|');
  for (const row of summary.inclusiveTop.slice(0, top)) lines.push(`| \`${row.fn}\` | ${row.ms.toFixed(0)} | ${pct(row.share)} |`);
  lines.push('');
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const top = Number(process.argv[3] ?? 25);
  process.stdout.write(formatProfileSummary(file, summarizeProfile(file, top), top));
}
