/**
 * Connect's enveloped message on the terminal WebSocket: one per binary WebSocket message,
 * a flags byte (0x02 = end of stream), a big-endian uint32 length, then the message. The
 * clients send and expect JSON messages; a binary protobuf message is also read.
 */
import { create, fromBinary, fromJsonString, type MessageInitShape, toJsonString } from '@bufbuild/protobuf';
import { type ExecRequest, ExecRequestSchema, ExecResponseSchema } from './gen/sandbox/v1/sandbox_pb.js';

export const END_STREAM_FLAG = 0x02;
const COMPRESSED_FLAG = 0x01;

export function encodeExecResponse(reply: MessageInitShape<typeof ExecResponseSchema>, end = false): Buffer {
  const payload = Buffer.from(toJsonString(ExecResponseSchema, create(ExecResponseSchema, reply)), 'utf8');
  const out = Buffer.alloc(5 + payload.length);
  out[0] = end ? END_STREAM_FLAG : 0;
  out.writeUInt32BE(payload.length, 1);
  payload.copy(out, 5);
  return out;
}

/** One WebSocket message as an ExecRequest; throws with a reason a client can act on. */
export function decodeExecRequest(message: Buffer): ExecRequest {
  if (message.length < 5) throw new Error('a message shorter than the 5-byte Connect envelope header');
  const flags = message[0] as number;
  if (flags & COMPRESSED_FLAG) throw new Error('compressed messages are not accepted');
  const length = message.readUInt32BE(1);
  if (length !== message.length - 5) throw new Error('the envelope length does not match the message');
  const payload = message.subarray(5);
  if (payload[0] === 0x7b /* { */) {
    return fromJsonString(ExecRequestSchema, payload.toString('utf8'), { ignoreUnknownFields: true });
  }
  return fromBinary(ExecRequestSchema, payload);
}
