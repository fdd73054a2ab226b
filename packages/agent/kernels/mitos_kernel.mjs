// mitos JavaScript kernel: a persistent V8 context serving one sandbox over a unix socket.
// Same line protocol as mitos_kernel.py: one JSON request line per connection
// ({"code", "timeout_ms"} or {"ping": true}); JSON lines back ending with {"kind":"exit"}.
// Top-level let/const/function declarations persist across cells (one global lexical scope,
// as separate <script> tags share); cells that use top-level await run inside an async function.
import { createServer } from 'node:net';
import { mkdirSync, rmSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { inspect, format } from 'node:util';
import vm from 'node:vm';

const socketPath = process.argv[2] ?? '/run/mitos/kernel-js.sock';
let send = () => {};

const out = (kind) => (...args) => {
  const text = `${format(...args)}\n`;
  send({ kind, [kind]: Buffer.from(text).toString('base64') });
};
const cellConsole = { log: out('stdout'), info: out('stdout'), debug: out('stdout'), warn: out('stderr'), error: out('stderr') };
const require = createRequire(`${process.cwd()}/`);
const context = vm.createContext({
  console: cellConsole,
  require,
  process,
  Buffer,
  setTimeout,
  clearTimeout,
  setInterval,
  clearInterval,
  fetch: globalThis.fetch,
  URL,
  TextEncoder,
  TextDecoder,
});

function bundle(value) {
  const data = { 'text/plain': inspect(value, { depth: 4, colors: false }) };
  if (value && typeof value === 'object') {
    for (const [method, mime] of [['_repr_html_', 'text/html'], ['_repr_markdown_', 'text/markdown'], ['_repr_svg_', 'image/svg+xml']]) {
      if (typeof value[method] === 'function') {
        try {
          data[mime] = String(value[method]());
        } catch {}
      }
    }
    if (!Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype) {
      try {
        data['application/json'] = JSON.stringify(value);
      } catch {}
    }
  }
  return data;
}

async function runCell(code, timeoutMs) {
  let value;
  const usesAwait = /(^|[^\w$.])await\s/.test(code);
  if (usesAwait) {
    const fn = new vm.Script(`(async () => {\n${code}\n})()`, { filename: 'cell.js' }).runInContext(context);
    value = await withDeadline(fn, timeoutMs);
  } else {
    value = new vm.Script(code, { filename: 'cell.js' }).runInContext(context, { timeout: timeoutMs > 0 ? timeoutMs : undefined });
    if (value instanceof Promise || (value && typeof value.then === 'function')) value = await withDeadline(value, timeoutMs);
  }
  return value;
}

function withDeadline(promise, ms) {
  if (!(ms > 0)) return promise;
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`execution exceeded ${ms / 1000} s`), { name: 'TimeoutError' })), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

let queue = Promise.resolve();
mkdirSync(dirname(socketPath), { recursive: true });
rmSync(socketPath, { force: true });
const server = createServer((conn) => {
  let buf = '';
  conn.on('data', (chunk) => {
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    const line = buf.slice(0, nl);
    conn.removeAllListeners('data');
    let req;
    try {
      req = JSON.parse(line);
    } catch {
      conn.end();
      return;
    }
    if (req.ping) {
      conn.end(`${JSON.stringify({ kind: 'pong', pid: process.pid })}\n`);
      return;
    }
    queue = queue.then(() => serveCell(conn, req));
  });
  conn.on('error', () => {});
});

async function serveCell(conn, req) {
  const write = (obj) => {
    if (!conn.destroyed) conn.write(`${JSON.stringify(obj)}\n`);
  };
  send = write;
  // A kernel started ahead in a pooled sandbox learns its sandbox's hostname and env with its first cell.
  if (req.env !== null && typeof req.env === 'object') {
    for (const [k, v] of Object.entries(req.env)) process.env[k] = String(v);
  }
  let exitCode = 0;
  try {
    const value = await runCell(String(req.code ?? ''), Number(req.timeout_ms ?? 60000));
    if (value !== undefined) {
      const data = bundle(value);
      write({ kind: 'result', result: { text: data['text/plain'], data, main: true } });
    }
  } catch (err) {
    exitCode = 1;
    // Errors thrown inside the context come from its own realm: instanceof Error is false.
    const isError = err !== null && typeof err === 'object' && 'message' in err;
    const message = isError ? String(err.message) : String(err);
    const name = /timed out/.test(message) ? 'TimeoutError' : isError ? String(err.name ?? 'Error') : 'Error';
    const stack = isError && err.stack ? String(err.stack) : `${name}: ${message}`;
    write({ kind: 'error', error: { name, value: message, traceback: stack.split('\n') } });
  }
  write({ kind: 'exit', exit_code: exitCode });
  send = () => {};
  conn.end();
}

server.listen(socketPath, () => {
  chmodSync(socketPath, 0o600);
  // The engine waits for this line instead of polling the socket.
  process.stdout.write('mitos-kernel-ready\n');
});
