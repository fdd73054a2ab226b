#!/usr/bin/env node
// Where E2B's `Sandbox.create()` -> first `commands.run('echo hi')` spends its time, on the
// server side: the bench's real server (warm pool) in this process, the unmodified `e2b` SDK on
// loopback, the server's HTTP requests timed by node's http diagnostics channels and the
// engine calls the E2B layer makes timed by wrapping them. Then, on one sandbox, the cost of
// each layer of the command line the SDK asks for (setpriv, bash -l) by itself.
// Run after `npm run build`, as root:
//
//   node packages/bench/spike/e2b-phases.mjs [ROUNDS] [TEMPLATE]     (default 40, e2b-base)
import diagnostics from 'node:diagnostics_channel';
import { loadavg } from 'node:os';
import { Sandbox } from 'e2b';
import { startBenchEnv } from '../dist/mitos/bench-env.js';

const rounds = Number(process.argv[2] ?? 40);
const templateId = process.argv[3] ?? 'e2b-base';
const e2bTemplate = { 'e2b-base': 'base', 'code-interpreter': 'code-interpreter-v1' }[templateId] ?? templateId;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** This round's marks, by name, relative to the round's start. */
let marks = new Map();
let t0 = 0;
const mark = (name, at = performance.now()) => {
  if (!marks.has(name)) marks.set(name, at - t0);
};

// Server side: when each request arrived and when its response finished.
diagnostics.subscribe('http.server.request.start', ({ request }) => {
  const path = new URL(request.url, 'http://x').pathname;
  const tag = path.endsWith('/sandboxes') ? 'create' : path.includes('process.Process/Start') ? 'start' : undefined;
  if (tag === undefined) return;
  mark(`server: ${tag} request in`);
  request.once('end', () => mark(`server: ${tag} body read`));
});
diagnostics.subscribe('http.server.response.finish', ({ request }) => {
  const path = new URL(request.url, 'http://x').pathname;
  if (path.endsWith('/sandboxes')) mark('server: create response sent');
  if (path.includes('process.Process/Start')) mark('server: start response sent');
});

// New TCP connections the server accepts per round (the SDK's api, envd and envd-rpc clients).
let sockets = 0;
diagnostics.subscribe('net.server.socket', () => {
  sockets += 1;
  mark(`server: new connection #${sockets}`);
});

const env = await startBenchEnv(2);
try {
  const built = performance.now();
  await env.engine.ensureTemplate({ id: templateId });
  console.log(`template ${templateId} ready in ${((performance.now() - built) / 1000).toFixed(1)} s`);
  const engine = env.engine;
  const wrap = (obj, method, name) => {
    const inner = obj[method].bind(obj);
    obj[method] = async (...args) => {
      mark(`${name} begin`);
      try {
        return await inner(...args);
      } finally {
        mark(`${name} end`);
      }
    };
  };
  for (const m of ['create', 'setDeadline', 'ensureTemplate']) wrap(engine, m, `engine.${m}`);
  // Synchronous lookups: the first marks when the E2B layer's handler began its work.
  const wrapSync = (obj, method, name) => {
    const inner = obj[method].bind(obj);
    obj[method] = (...args) => {
      mark(name);
      return inner(...args);
    };
  };
  wrapSync(engine, 'getTemplate', 'e2b create handler: template lookup');
  wrapSync(engine, 'get', 'e2b envd routing: sandbox lookup');
  wrap(engine.files, 'read', 'engine.files.read');
  wrap(engine.pool, 'take', 'engine: pool.take (hand-out)');
  wrap(engine.driver, 'rename', 'engine: driver.rename');
  wrap(engine, 'exec', 'engine.exec (account setup)');
  const startProcess = engine.startProcess.bind(engine);
  engine.startProcess = async (id, options) => {
    mark('engine.startProcess begin');
    const handle = await startProcess(id, options);
    mark('engine.startProcess handle (spawned)');
    handle.subscribe({ onStdout: () => mark('process: first stdout'), onExit: () => mark('process: exit') });
    return handle;
  };

  const opts = { apiKey: env.e2bApiKey, apiUrl: `${env.url}/e2b`, sandboxUrl: `${env.url}/e2b`, timeoutMs: 60_000 };
  console.log(`template ${templateId} (E2B ${e2bTemplate}); load average before: ${load()}`);
  /** Until the template's pool is full and no refill runs (bounded), so no launch overlaps a round. */
  const poolIdle = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const t = engine.pool.status().templates.find((p) => p.template === templateId);
      if ((t && !t.refilling && t.ready >= engine.pool.status().size) || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** `idle`: each round starts on a full, quiet pool; otherwise back to back, as the bench runs. */
  const profile = async (idle) => {
    const rows = [];
    const connections = [];
    for (let i = 0; i < rounds + 5; i++) {
      if (idle) await poolIdle();
      marks = new Map();
      sockets = 0;
      t0 = performance.now();
      const sb = await Sandbox.create(e2bTemplate, opts);
      mark('client: create returned');
      const out = await sb.commands.run('echo hi');
      mark('client: run returned');
      if (out.stdout !== 'hi\n') throw new Error(`echo hi answered ${JSON.stringify(out.stdout)}`);
      await sb.kill();
      if (i >= 5) rows.push(marks);
      if (i >= 5) connections.push(sockets);
    }
    const names = [...new Set(rows.flatMap((r) => [...r.keys()]))];
    const at = names.map((n) => [n, median(rows.map((r) => r.get(n)).filter((v) => v !== undefined))]);
    at.sort((a, b) => a[1] - b[1]);
    console.log(`\n${idle ? 'each round on an idle, full pool' : 'rounds back to back (as the bench)'}: load ${load()}`);
    console.log(`new connections per round: median ${median(connections)}, max ${Math.max(...connections)}`);
    console.log(`median ms from the Sandbox.create() call, ${rows.length} rounds:`);
    let prev = 0;
    for (const [n, ms] of at) {
      console.log(`${ms.toFixed(2).padStart(8)}  (+${(ms - prev).toFixed(2).padStart(6)})  ${n}`);
      prev = ms;
    }
  };
  if (process.env.SKIP_ROUNDS !== '1') {
    await profile(false);
    await profile(true);
  }

  // Each layer of the SDK's command line by itself, on one sandbox, through the engine.
  const sb = await Sandbox.create(e2bTemplate, opts);
  const user = { uid: 1000, gid: 1000, home: '/home/user' };
  const setpriv = `setpriv --reuid=${user.uid} --regid=${user.gid} --init-groups --`;
  const variants = [
    ['sh -c echo (the floor)', 'echo hi'],
    ['exec /bin/bash -c', "exec /bin/bash -c 'echo hi'"],
    ['exec /bin/bash -l -c (root)', "exec /bin/bash -l -c 'echo hi'"],
    ['exec setpriv .. /bin/echo', `exec ${setpriv} /bin/echo hi`],
    ['exec setpriv .. /bin/bash -c', `exec ${setpriv} /bin/bash -c 'echo hi'`],
    ['exec setpriv .. /bin/bash -l -c (what the SDK asks)', `exec ${setpriv} '/bin/bash' '-l' '-c' 'echo hi'`],
  ];
  const env1 = { HOME: user.home, USER: 'user', LOGNAME: 'user' };
  const timeVariants = async (list) => {
    for (const [name, command] of list) {
      const times = [];
      for (let i = 0; i < 10 + rounds; i++) {
        const t = performance.now();
        const h = await startProcess(sb.sandboxId, { command, cwd: user.home, env: env1, timeoutMs: 0 });
        const r = await h.wait();
        if (r.stdout.toString() !== 'hi\n') throw new Error(`${name}: ${r.stdout} ${r.stderr}`);
        if (i >= 10) times.push(performance.now() - t);
      }
      console.log(`${median(times).toFixed(2).padStart(8)}  ${name} (startProcess -> exit)`);
    }
  };
  await timeVariants(variants);
  // The same login shell with the other /etc/profile: Debian's (`$(id -u)`, a fork and an exec
  // of id per login shell) if the image has the E2B layer's (bash's EUID), and the other way round.
  const toggled = await engine.exec(sb.sandboxId, {
    command: `if grep -q 'EUID:-' /etc/profile; then
  sed -i 's/"\${EUID:-$(id -u)}"/"$(id -u)"/' /etc/profile; echo "Debian's, with \\$(id -u)"
else
  sed -i 's/"$(id -u)"/"\${EUID:-$(id -u)}"/' /etc/profile; echo "the E2B layer's, with \\$EUID"
fi`,
    timeoutMs: 10_000,
  });
  const now = toggled.stdout.toString().trim();
  await timeVariants(variants.slice(-1).map(([n, c]) => [`${n}, /etc/profile now ${now}`, c]));
  const used = [];
  for (let i = 0; i < 10 + rounds; i++) {
    marks = new Map();
    t0 = performance.now();
    await sb.commands.run('echo hi');
    mark('client: run returned');
    if (i >= 10) used.push(marks);
  }
  console.log("\nSDK commands.run('echo hi') on a used sandbox, median ms from the call:");
  const names = [...new Set(used.flatMap((r) => [...r.keys()]))];
  const at = names.map((n) => [n, median(used.map((r) => r.get(n)).filter((v) => v !== undefined))]);
  at.sort((a, b) => a[1] - b[1]);
  for (const [n, ms] of at) console.log(`${ms.toFixed(2).padStart(8)}  ${n}`);
  await sb.kill();
  console.log(`load average after: ${load()}`);
} finally {
  await env.close();
}
