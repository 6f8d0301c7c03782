// Summarises a V8 .cpuprofile (e.g. from `npm run bench -- --gw-cpu-prof DIR`): the functions
// with the most self time, and the most inclusive time, with their source locations, as shares
// of the time the process was busy (idle samples left out).
//
//   node --import tsx bench/profile-summary.ts DIR/CPU.….cpuprofile [top=30]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [top]\n');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 30);
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
// Percentages are of the busy time: samples outside (idle) — the process waiting for I/O.
let idle = 0;
for (const [id, us] of selfUs) if (byId.get(id)!.callFrame.functionName === '(idle)') idle += us;
const busy = total - idle;

const where = (n: Node): string => {
  const f = n.callFrame;
  // Compiled children (lib/compile.ts) live in a temporary copy of the tree: show project paths.
  const url = f.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '').replace(/^.*\/owlrun-bench-[^/]+\//, '');
  return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
};

// Self time per function (same name + location merged).
const self = new Map<string, number>();
// Inclusive time per function: each sample counts once per distinct function on its stack.
const incl = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  self.set(where(n), (self.get(where(n)) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const key = where(byId.get(cur)!);
    if (seen.has(key)) continue;
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + us);
  }
}

let out = '';
const show = (title: string, m: Map<string, number>): void => {
  out += `\n${title}, % of ${(busy / 1e6).toFixed(2)} s busy (${(total / 1e6).toFixed(2)} s sampled)\n`;
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(root)')).slice(0, top)) {
    out += `${((us / busy) * 100).toFixed(1).padStart(5)}%  ${k}\n`;
  }
};
show('self time', self);
show('inclusive time', incl);
process.stdout.on('error', () => undefined); // e.g. piped into head
process.stdout.write(out);
