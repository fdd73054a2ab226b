/**
 * The name a client's first bytes ask for, before anything is forwarded: the server name of a
 * TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3) or the Host header of a plain HTTP request. Pure:
 * the SNI proxy (sni-proxy.ts) feeds it what it has read so far and waits while it says "more".
 */

/** Bytes read before a client must have named its host (a ClientHello fits in far less). */
export const FIRST_BYTES_LIMIT = 16 * 1024;

export type FirstBytes =
  | { kind: 'more' }
  /** TLS, with the ClientHello's host_name (undefined when it sends none). */
  | { kind: 'tls'; name: string | undefined }
  /** Plain HTTP, with the Host header's name (undefined when it has none). */
  | { kind: 'http'; name: string | undefined }
  /** Neither (or malformed): nothing names a host. */
  | { kind: 'unknown' };

const HTTP_METHOD = /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE) /;

export function readFirstBytes(buf: Buffer): FirstBytes {
  if (buf.length === 0) return { kind: 'more' };
  if (buf[0] === 0x16) return readClientHello(buf);
  const head = buf.subarray(0, Math.min(buf.length, 8)).toString('latin1');
  if (HTTP_METHOD.test(head) || /^[A-Z]{1,7}$/.test(head)) return readHttpHost(buf);
  return { kind: 'unknown' };
}

function readHttpHost(buf: Buffer): FirstBytes {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length >= FIRST_BYTES_LIMIT ? { kind: 'unknown' } : { kind: 'more' };
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  if (!HTTP_METHOD.test(lines[0] ?? '')) return { kind: 'unknown' };
  const hosts = lines.slice(1).filter((l) => /^host\s*:/i.test(l));
  // Two Host headers are ambiguous (RFC 9112 3.2): which one a server honours is its choice.
  if (hosts.length !== 1) return { kind: 'http', name: undefined };
  return { kind: 'http', name: hostName((hosts[0] as string).replace(/^host\s*:/i, '').trim()) };
}

/** "example.com:8080" or "[::1]:80" to the bare, lower-case name. */
function hostName(value: string): string | undefined {
  if (value.startsWith('[')) return undefined; // an IP literal names no domain
  const name = value.replace(/:\d+$/, '').toLowerCase().replace(/\.$/, '');
  return /^[a-z0-9_.-]+$/.test(name) ? name : undefined;
}

/**
 * The handshake messages may span several records: collect record bodies (type 22 only)
 * until the ClientHello is whole, then read its extensions.
 */
function readClientHello(buf: Buffer): FirstBytes {
  const parts: Buffer[] = [];
  let at = 0;
  let collected = 0;
  let needed = -1;
  while (needed < 0 || collected < needed) {
    if (buf.length < at + 5) return more(buf);
    if (buf[at] !== 0x16) return { kind: 'unknown' };
    const len = buf.readUInt16BE(at + 3);
    if (buf.length < at + 5 + len) return more(buf);
    parts.push(buf.subarray(at + 5, at + 5 + len));
    collected += len;
    at += 5 + len;
    if (needed < 0 && collected >= 4) {
      const hs = Buffer.concat(parts);
      if (hs[0] !== 1) return { kind: 'unknown' };
      needed = 4 + hs.readUIntBE(1, 3);
    }
  }
  const hello = Buffer.concat(parts).subarray(4, needed);
  try {
    return { kind: 'tls', name: serverName(hello) };
  } catch {
    return { kind: 'unknown' };
  }
}

function more(buf: Buffer): FirstBytes {
  return buf.length >= FIRST_BYTES_LIMIT ? { kind: 'unknown' } : { kind: 'more' };
}

/** Throws RangeError on a truncated ClientHello (Buffer reads past the end). */
function serverName(hello: Buffer): string | undefined {
  let p = 2 + 32; // legacy_version, random
  p += 1 + hello.readUInt8(p); // legacy_session_id
  p += 2 + hello.readUInt16BE(p); // cipher_suites
  p += 1 + hello.readUInt8(p); // legacy_compression_methods
  if (p === hello.length) return undefined; // no extensions at all
  const end = p + 2 + hello.readUInt16BE(p);
  if (end > hello.length) throw new RangeError('extensions past the ClientHello');
  p += 2;
  const names: string[] = [];
  while (p + 4 <= end) {
    const type = hello.readUInt16BE(p);
    const len = hello.readUInt16BE(p + 2);
    const body = hello.subarray(p + 4, p + 4 + len);
    if (body.length !== len) throw new RangeError('extension past the ClientHello');
    if (type === 0) {
      let q = 2;
      const listEnd = 2 + body.readUInt16BE(0);
      while (q + 3 <= listEnd) {
        const nameLen = body.readUInt16BE(q + 1);
        if (body[q] === 0) names.push(body.subarray(q + 3, q + 3 + nameLen).toString('latin1'));
        q += 3 + nameLen;
      }
    }
    p += 4 + len;
  }
  // RFC 6066 allows one host_name: a list of several is a client trying its luck.
  if (names.length !== 1) return undefined;
  const name = (names[0] as string).toLowerCase().replace(/\.$/, '');
  return /^[a-z0-9_.-]+$/.test(name) ? name : undefined;
}
