import assert from 'node:assert/strict';
import { test } from 'node:test';
import { procAddress, tiedSockets } from './connections.js';

const HEAD = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const row = (local: string, remote: string, state: string, inode: number) =>
  `   0: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0 20 4 30 10 -1`;

test("procAddress reads the kernel's little-endian words, v4 and v6", () => {
  assert.deepEqual(procAddress('0100007F:1F40'), { address: '127.0.0.1', port: 8000 });
  assert.deepEqual(procAddress('0A71CB00:0050'), { address: '0.203.113.10', port: 80 });
  assert.deepEqual(procAddress('00000000000000000000000001000000:0016'), { address: '0:0:0:0:0:0:0:1', port: 22 });
});

test('tiedSockets names connections to outside and binds to an address, not loopback or the wildcard', () => {
  const table = [
    HEAD,
    row('00000000:1F40', '00000000:0000', '0A', 11), // listening on 0.0.0.0:8000: carried
    row('0100007F:1F40', '0100007F:A000', '01', 12), // loopback connection: carried
    row('0200000A:A001', '0A71CBCB:0050', '01', 13), // 10.0.0.2 -> 203.113.203.10:80: tied
    row('0200000A:1F41', '00000000:0000', '0A', 14), // listening on 10.0.0.2 only: tied
  ].join('\n');
  const tied = tiedSockets('tcp', table);
  assert.deepEqual([...tied.keys()], ['13', '14']);
  assert.equal(tied.get('13'), 'tcp 10.0.0.2:40961 -> 203.203.113.10:80');
  assert.equal(tied.get('14'), 'tcp 10.0.0.2:8001 (bound)');
  // An unconnected UDP socket on the wildcard is carried; one connected out is not.
  const udp = [HEAD, row('00000000:0035', '00000000:0000', '07', 21), row('0200000A:C000', '08080808:0035', '01', 22)];
  assert.deepEqual([...tiedSockets('udp', udp.join('\n')).keys()], ['22']);
});
