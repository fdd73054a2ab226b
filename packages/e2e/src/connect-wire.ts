/**
 * The Connect wire exactly as the current mitos clients (Python `mitos-run` 0.3.x
 * `_connect.py`, TypeScript `connect.ts`) write it by hand, without a Connect library: unary
 * calls as `application/json`, streams as `application/connect+json` with one buffered body of
 * enveloped JSON messages (no end-of-stream frame from the client), `X-Sandbox-Id` on every
 * call. Replies are read back the way those clients read them.
 */

export interface WireFrame {
  flags: number;
  // biome-ignore lint/suspicious/noExplicitAny: the decoded proto-JSON of any sandbox.v1 message
  json: any;
}

export const END_STREAM = 0x02;

export function envelope(message: unknown, flags = 0): Buffer {
  const payload = Buffer.from(JSON.stringify(message), 'utf8');
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

export function parseFrames(body: Buffer): WireFrame[] {
  const frames: WireFrame[] = [];
  let offset = 0;
  while (offset + 5 <= body.length) {
    const length = body.readUInt32BE(offset + 1);
    const payload = body.subarray(offset + 5, offset + 5 + length);
    frames.push({ flags: body[offset] as number, json: payload.length > 0 ? JSON.parse(payload.toString()) : {} });
    offset += 5 + length;
  }
  if (offset !== body.length) throw new Error(`trailing ${body.length - offset} bytes after the last frame`);
  return frames;
}

export interface WireClient {
  // biome-ignore lint/suspicious/noExplicitAny: proto-JSON replies
  unary(method: string, message: unknown): Promise<{ status: number; json: any }>;
  /** A streaming call: the request frames buffered, the reply's frames (the last must end the stream). */
  stream(method: string, messages: unknown[]): Promise<{ status: number; frames: WireFrame[] }>;
}

/** `style: 'python'` sends what _connect.py sends; `'typescript'` adds Connect-Protocol-Version on streams. */
export function wireClient(baseUrl: string, sandboxId: string, style: 'python' | 'typescript' = 'python'): WireClient {
  const headers = (contentType: string) => ({ 'Content-Type': contentType, 'X-Sandbox-Id': sandboxId });
  return {
    async unary(method, message) {
      const res = await fetch(`${baseUrl}/sandbox.v1.Sandbox/${method}`, {
        method: 'POST',
        headers: headers('application/json'),
        body: JSON.stringify(message),
      });
      const text = await res.text();
      return { status: res.status, json: text === '' ? {} : JSON.parse(text) };
    },
    async stream(method, messages) {
      const res = await fetch(`${baseUrl}/sandbox.v1.Sandbox/${method}`, {
        method: 'POST',
        headers: {
          ...headers('application/connect+json'),
          ...(style === 'typescript' && { 'Connect-Protocol-Version': '1' }),
        },
        body: Buffer.concat(messages.map((m) => envelope(m))),
      });
      const body = Buffer.from(await res.arrayBuffer());
      return {
        status: res.status,
        frames: res.ok ? parseFrames(body) : [{ flags: END_STREAM, json: JSON.parse(body.toString()) }],
      };
    },
  };
}

export const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
export const unb64 = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');
