// Where a `mitos run -- python3 -c 'print(2+2)'` client spends its time, phase by phase, in one
// fresh process (times are since the process started), and whether it loaded undici (fetch).
// Needs MITOS_BASE_URL and MITOS_API_KEY (cli-server.mjs writes them).
//   node packages/bench/spike/cli-run-phases.mjs            (the SDK as it is)
//   node packages/bench/spike/cli-run-phases.mjs --fetch    (one fetch first, to price undici)
//   node packages/bench/spike/cli-run-phases.mjs --twice    (a template call too, to price it)
const marks = [['node start-up, to this script', performance.now()]];
const mark = (label) => marks.push([label, performance.now()]);
const cpu0 = process.cpuUsage();
await import('commander');
mark('import commander');
const sdk = await import('@mitos/sdk');
mark('import @mitos/sdk');
if (process.argv.includes('--fetch')) {
  await fetch(`${process.env.MITOS_BASE_URL}/v1/health`).then((r) => r.text());
  mark('a first fetch (GET /v1/health; loads undici)');
}
const sb = await sdk.create('python', {});
mark('create (POST /v1/fork; the first request)');
if (process.argv.includes('--twice')) {
  await sdk.SandboxServer.fromAuth({}).ensureTemplate('python', { initWaitSeconds: 5 });
  mark('a template call (POST /v1/templates), which create made first before');
}
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
const cpu = process.cpuUsage(cpu0);
let prev = 0;
for (const [label, at] of marks) {
  console.log(`${at.toFixed(1).padStart(8)} ms  +${(at - prev).toFixed(1).padStart(6)}  ${label}`);
  prev = at;
}
const undici = process.moduleLoadList.some((m) => m.includes('undici'));
console.log(`client CPU after start-up ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms; undici loaded: ${undici}`);
if (out.trim() !== '4') throw new Error(`unexpected output ${JSON.stringify(out)}`);
