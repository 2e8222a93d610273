/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, as bench/notify --profile
 * writes them): self time by package or source file and by function, and
 * inclusive time of paygate's own functions, so BENCHMARKS.md can say where a
 * server's time goes.
 *
 *   node -r ts-node/register/transpile-only bench/cpu-profile-summary.ts FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, ...rest] = process.argv.slice(2);
if (!file) throw new Error('usage: cpu-profile-summary.ts FILE.cpuprofile [--top N]');
const top = rest[0] === '--top' ? Number(rest[1]) : 25;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const totalUs = profile.endTime - profile.startTime;

/** node_modules/<pkg>, src/<dir>/<file>, node:internal, or (native). */
function where(url: string): string {
  if (!url) return '(native / V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm ${nm[1]}`;
  const own = /\/(src|dist\/src)\/(.+)$/.exec(url);
  if (own) return own[2].replace(/\.js$/, '.ts');
  if (url.startsWith('node:')) return url.replace(/^node:internal\/.*$/, 'node:internal');
  return url;
}

const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
const byPlace = new Map<string, number>();
const byFunction = new Map<string, number>();
const ownInclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const place = where(n.callFrame.url);
  add(byPlace, n.callFrame.functionName === '(idle)' ? '(idle)' : place, us);
  add(
    byFunction,
    `${n.callFrame.functionName || '(anonymous)'} ${place}:${n.callFrame.lineNumber + 1}`,
    us,
  );
  // Inclusive time of paygate's functions: each own frame on the stack once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const f = byId.get(cur)!.callFrame;
    if (!/\/(src|dist\/src)\//.test(f.url)) continue;
    const key = `${f.functionName || '(anonymous)'} ${where(f.url)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    add(ownInclusive, key, us);
  }
}

const busyUs = totalUs - (byPlace.get('(idle)') ?? 0);
const line = (k: string, us: number) =>
  `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / busyUs).toFixed(1).padStart(5)}%  ${k}`;
const print = (title: string, m: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`${line(k, us)}\n`);
};
process.stdout.write(
  `${file}\nwall ${(totalUs / 1e6).toFixed(1)} s, busy ${(busyUs / 1e6).toFixed(1)} s (percentages are of busy time)\n`,
);
print('self time by place', byPlace);
print('self time by function', byFunction);
print("inclusive time of paygate's own functions", ownInclusive);
