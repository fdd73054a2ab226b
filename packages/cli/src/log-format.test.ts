import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLogLine } from './log-format.js';

test('a pino line reads as time, level, message and fields', () => {
  const line = JSON.stringify({
    level: 30,
    time: new Date(2026, 0, 2, 12, 4, 5).getTime(),
    pid: 1,
    hostname: 'h',
    service: 'mitos-server',
    url: 'http://127.0.0.1:8080',
    auth: false,
    msg: 'mitos server listening',
  });
  assert.equal(
    formatLogLine(line, false),
    '12:04:05 INFO  mitos server listening  url=http://127.0.0.1:8080 auth=false\n',
  );
  assert.match(formatLogLine(JSON.stringify({ level: 40, time: 0, msg: 'careful' }), true), /\x1b\[33mWARN/);
  assert.equal(formatLogLine('not json', false), 'not json\n');
});
