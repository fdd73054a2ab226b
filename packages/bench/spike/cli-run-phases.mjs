// Where a `mitos run -- python3 -c 'print(2+2)'` client spends its time, phase by phase, in one
// fresh process (times are since the process started). Needs MITOS_BASE_URL and MITOS_API_KEY.
//   node packages/bench/spike/cli-run-phases.mjs
const marks = [['node start-up, to this script', performance.now()]];
const mark = (label) => marks.push([label, performance.now()]);
await import('commander');
mark('import commander');
const sdk = await import('@mitos/sdk');
mark('import @mitos/sdk');
const server = sdk.SandboxServer.fromAuth({});
await fetch(`${process.env.MITOS_BASE_URL}/v1/health`).then((r) => r.text());
mark('first fetch (GET /v1/health; loads undici)');
await fetch(`${process.env.MITOS_BASE_URL}/v1/health`).then((r) => r.text());
mark('second fetch (GET /v1/health)');
await server.ensureTemplate('python', { initWaitSeconds: 5 });
mark('ensure template (POST /v1/templates)');
const sb = await server.fork('python', {});
mark('fork (POST /v1/fork)');
let out = '';
await sb.exec("python3 -c 'print(2+2)'", {
  onStdout: (d) => {
    if (out === '') mark('exec stream to the first output');
    out += Buffer.from(d).toString();
  },
});
mark('exec stream to its end');
await sb.terminate({ wait: false });
mark('terminate (DELETE /v1/sandboxes/:id?wait=false)');
const other = await server.fork('python', {});
mark('fork another');
await other.terminate();
mark('terminate it, waiting for the teardown');
let prev = 0;
for (const [label, at] of marks) {
  console.log(`${at.toFixed(1).padStart(8)} ms  +${(at - prev).toFixed(1).padStart(6)}  ${label}`);
  prev = at;
}
if (out.trim() !== '4') throw new Error(`unexpected output ${JSON.stringify(out)}`);
