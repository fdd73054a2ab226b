import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { SERVER_EVENT_SCHEMAS, type ServerEventType } from '@mitos/protocol';
import { captureLogger, type LiveServer, makeTestApp, startLiveServer, withSandbox } from '@mitos/testkit/server';
import { sharedUsage } from './events.js';

const KEY = 'events-test-key-1';

interface Message {
  event: ServerEventType;
  // biome-ignore lint/suspicious/noExplicitAny: each payload is checked against its schema below
  data: any;
}

/** Reads server-sent events one message at a time, checking each against the protocol's schema. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  return {
    async next(): Promise<Message> {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const event = /^event: ?(.*)$/m.exec(block)?.[1] as ServerEventType;
          const data = JSON.parse(
            block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).replace(/^ /, ''))
              .join('\n'),
          );
          assert.ok(event in SERVER_EVENT_SCHEMAS, `unknown event ${event}`);
          SERVER_EVENT_SCHEMAS[event].parse(data);
          return { event, data };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('event stream ended');
        buffered += value;
      }
    },
    /** The next message of `type`, skipping others (usage arrives on its own clock). */
    async nextOf(type: ServerEventType): Promise<Message> {
      for (;;) {
        const m = await this.next();
        if (m.event === type) return m;
      }
    },
    cancel: () => reader.cancel(),
  };
}

describe('GET /v1/events', () => {
  let live: LiveServer;
  before(async () => {
    live = await startLiveServer({ apiKeys: [KEY] });
  });
  after(() => live.close());

  it('needs the key', async () => {
    const res = await fetch(`${live.url}/v1/events`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unauthorized');
  });

  it('sends a snapshot, then creations, changes, usage and departures as they happen', async () => {
    const res = await fetch(`${live.url}/v1/events`, { headers: { Authorization: `Bearer ${KEY}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = sseReader(res.body as ReadableStream<Uint8Array>);
    const snapshot = await events.next();
    assert.equal(snapshot.event, 'snapshot');
    assert.deepEqual(
      snapshot.data.sandboxes.map((s: { id: string; state: string }) => [s.id, s.state]),
      [['sb-1', 'running']],
    );
    const usage = await events.nextOf('usage');
    assert.deepEqual(
      usage.data.sandboxes.map((u: { sandbox: string }) => u.sandbox),
      ['sb-1'],
    );

    await live.engine.create({ id: 'sb-2', templateId: 'python' });
    const created = await events.nextOf('sandbox');
    assert.equal(created.data.sandbox.id, 'sb-2');
    assert.equal(created.data.sandbox.deadline_unix, 0);

    await live.engine.pause('sb-2');
    const paused = await events.nextOf('sandbox');
    assert.deepEqual([paused.data.sandbox.id, paused.data.sandbox.state], ['sb-2', 'paused']);

    await live.engine.terminate('sb-2');
    assert.deepEqual((await events.nextOf('gone')).data, { id: 'sb-2' });
    await events.cancel();
  });

  it('ends open streams when the server closes, instead of holding the close open', async () => {
    const own = await startLiveServer({ shutdownGraceMs: 60_000 });
    const res = await fetch(`${own.url}/v1/events`);
    const events = sseReader(res.body as ReadableStream<Uint8Array>);
    await events.next();
    await own.close();
    await assert.rejects(async () => {
      for (;;) await events.next();
    }, /ended|terminated|aborted/);
  });
});

describe('GET /v1/events with a body', () => {
  it('is refused instead of streaming', async () => {
    const live = await startLiveServer();
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${live.url}/v1/events`, { method: 'GET', headers: { 'Content-Length': '2' } }, (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end('{}');
      });
      assert.equal(status, 400);
      assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'invalid_request');
    } finally {
      await live.close();
    }
  });
});

describe('usage shared by the open streams', () => {
  it('measures once for callers that accept the same measurement, again for one that needs a newer', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    let measured = 0;
    const usage = t.engine.usage.bind(t.engine);
    t.engine.usage = (id) => {
      measured++;
      return usage(id);
    };
    const logger = captureLogger().logger;
    const shared = sharedUsage({ engine: t.engine, logger });
    const [a, b] = await Promise.all([shared(0), shared(0)]);
    assert.equal(measured, 1);
    assert.deepEqual(a, b);
    assert.deepEqual(
      a.map((row) => row.sandbox),
      ['sb-1'],
    );
    await shared(Date.now() + 1000);
    assert.equal(measured, 2, 'a change seen after the last measurement needs a new one');
  });
});
