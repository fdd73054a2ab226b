#!/usr/bin/env node
// Self time by function and by package from a V8 .cpuprofile (node --cpu-prof), for reading
// where a server spends its CPU:  node packages/bench/spike/cpuprofile-top.mjs FILE [N]
import { readFileSync } from 'node:fs';

const prof = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const n = Number(process.argv[3] ?? 40);
const byId = new Map(prof.nodes.map((x) => [x.id, x]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const where = (cf) => {
  const u = cf.url || '';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (m) return m[1];
  const p = /packages\/([^/]+)\//.exec(u);
  if (p) return `@mitos/${p[1]}`;
  if (u.startsWith('node:')) return u;
  return u === '' ? `(${cf.functionName || 'native'})` : u.split('/').slice(-2).join('/');
};
const fn = new Map();
const pkg = new Map();
for (const [id, us] of self) {
  const cf = byId.get(id).callFrame;
  const key = `${cf.functionName || '(anon)'}  ${where(cf)}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const w = where(cf);
  pkg.set(w, (pkg.get(w) ?? 0) + us);
}
const show = (m, k) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .forEach(([name, us]) => console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`));
console.log(`total sampled ${(total / 1000).toFixed(0)} ms`);
console.log('--- by package / module');
show(pkg, 25);
console.log('--- by function (self)');
show(fn, n);
