// Whole-process A/B of command lines, run in turn (A, B, A, B, ...) so load drifts hit both
// alike: wall time spawn to exit, and the process's own CPU (user+sys, from /usr/bin/time).
// Each command line is one argument, split on spaces.
//   . /tmp/cli-env; node packages/bench/spike/cli-ab.mjs 20 \
//     "node packages/cli/dist/main.cjs run -- python3 -c print(2+2)" \
//     "node packages/cli/dist/main-before.js run -- python3 -c print(2+2)"
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';

const [rounds, ...lines] = process.argv.slice(2);
const commands = lines.map((l) => l.split(' '));

function timeOnce(argv) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let err = '';
    const child = spawn('/usr/bin/time', ['-f', 'CPU %U %S', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = performance.now() - start;
      const m = /CPU ([\d.]+) ([\d.]+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`${argv.join(' ')} exited ${code}: ${err}`));
      resolve({ wall, cpu: (Number(m[1]) + Number(m[2])) * 1000 });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const load = [loadavg()[0]];
const results = commands.map(() => ({ wall: [], cpu: [] }));
for (const c of commands) await timeOnce(c); // warm the page cache once
for (let r = 0; r < Number(rounds); r++) {
  for (const [i, c] of commands.entries()) {
    const t = await timeOnce(c);
    results[i].wall.push(t.wall);
    results[i].cpu.push(t.cpu);
  }
}
load.push(loadavg()[0]);
console.log(`load ${load.map((l) => l.toFixed(1)).join(' -> ')}, ${rounds} rounds in turn, medians:`);
for (const [i, line] of lines.entries()) {
  const { wall, cpu } = results[i];
  // /usr/bin/time counts CPU in 10 ms steps: the mean over many runs resolves finer than one.
  const mean = cpu.reduce((a, b) => a + b, 0) / cpu.length;
  console.log(
    `${median(wall).toFixed(1).padStart(8)} ms wall ${median(cpu).toFixed(0).padStart(5)} ms cpu (mean ${mean.toFixed(1)})  ${line}`,
  );
}
