/**
 * An NDJSON response body (wire-v1.md 4.8, 4.9): one JSON object per line, each line its own
 * chunk so it reaches the client as soon as it is produced. The producer learns about a client
 * that went away through `signal`; `onClose` runs exactly once when the stream ends, whether
 * the producer ended it or the client did.
 */
import { MitosError } from '@mitos/protocol';
import type { StreamLease, StreamRegistry } from './registry.js';

const encoder = new TextEncoder();

export interface NdjsonWriter {
  /** Aborted when the client disconnects or cancels the body. */
  readonly signal: AbortSignal;
  /** Sends one line; a no-op once the stream has ended. */
  send(line: object): void;
  /** Ends the body; idempotent. */
  end(): void;
}

export interface NdjsonOptions {
  /** The request's own signal (@hono/node-server aborts it when the connection closes early). */
  clientSignal: AbortSignal;
  /** Produces the lines. A throw ends the body without a terminal line, which clients treat as an error. */
  run(out: NdjsonWriter): Promise<void> | void;
  onClose(): void;
}

export function ndjsonResponse({ clientSignal, run, onClose }: NdjsonOptions): Response {
  const cancelled = new AbortController();
  const signal = AbortSignal.any([clientSignal, cancelled.signal]);
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let open = true;
  const finish = () => {
    if (!open) return;
    open = false;
    onClose();
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel(reason) {
      cancelled.abort(reason);
      finish();
    },
  });
  // A vanished client frees its slot at once, even if the engine is slow to stop the work.
  signal.addEventListener('abort', finish, { once: true });
  const writer: NdjsonWriter = {
    signal,
    send(line) {
      if (open) controller?.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
    },
    end() {
      if (!open) return;
      finish();
      controller?.close();
    },
  };
  Promise.resolve()
    .then(() => run(writer))
    .catch(() => {
      if (!open) return;
      finish();
      controller?.error(new Error('stream producer failed'));
    });
  return new Response(body, {
    status: 200,
    headers: {
      'Content-Type': 'application/x-ndjson',
      // Tells @hono/node-server to send the headers now instead of reading ahead to size the body.
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
  });
}

/**
 * An NDJSON response holding one of `sandboxId`'s stream slots (429 too_many_streams, thrown
 * here, when none is free) from before the 200 until the body ends, however it ends.
 */
export function leasedNdjsonResponse(
  streams: StreamRegistry,
  sandboxId: string,
  clientSignal: AbortSignal,
  run: (out: NdjsonWriter, lease: StreamLease) => Promise<void> | void,
): Response {
  const lease = streams.acquire(sandboxId);
  return ndjsonResponse({ clientSignal, onClose: lease.release, run: (out) => run(out, lease) });
}

/** What a stream's producer gets from acceptedNdjsonResponse. */
export interface AcceptedStream {
  out: NdjsonWriter;
  /** Give to the engine call as its `onAccepted`: takes the stream slot and lets the 200 go. */
  accept: () => void;
  /** Whether the engine accepted the call: a failure before that is a refusal, to rethrow. */
  readonly accepted: boolean;
  /** Aborted when the client goes away, or (once accepted) when the sandbox does. */
  signal: AbortSignal;
  /** Aborted, with a MitosError as reason, when the sandbox goes away or the server stops. */
  sandboxGone: AbortSignal;
}

/**
 * An NDJSON response whose sandbox lookup is the engine call it carries (one lookup per
 * request): the producer starts the call at once, and the 200 waits for the engine to accept
 * it. Until then, a throw (not_found, sandbox_not_running, and 429 too_many_streams, which
 * `accept` checks after the lookup as wire-v1.md 4.8 orders them) rejects with the error for
 * the route's ordinary envelope. The stream slot is held from acceptance until the body ends.
 */
export function acceptedNdjsonResponse(
  streams: StreamRegistry,
  sandboxId: string,
  clientSignal: AbortSignal,
  run: (stream: AcceptedStream) => Promise<void>,
): Promise<Response> {
  let lease: StreamLease | undefined;
  const gone = new AbortController();
  return new Promise<Response>((resolve, reject) => {
    const response: Response = ndjsonResponse({
      clientSignal,
      onClose: () => lease?.release(),
      run: async (out) => {
        const stream: AcceptedStream = {
          out,
          signal: AbortSignal.any([out.signal, gone.signal]),
          sandboxGone: gone.signal,
          get accepted() {
            return lease !== undefined;
          },
          accept: () => {
            if (lease !== undefined) return;
            // The slot would never be freed: the body already ended with the client.
            if (out.signal.aborted) throw new MitosError('canceled', 'the client went away before the stream started');
            const taken = streams.acquire(sandboxId);
            lease = taken;
            if (taken.signal.aborted) gone.abort(taken.signal.reason);
            else taken.signal.addEventListener('abort', () => gone.abort(taken.signal.reason), { once: true });
            resolve(response);
          },
        };
        try {
          await run(stream);
        } catch (err) {
          reject(err);
          throw err;
        }
        // An engine that never called onAccepted still answered: its lines are the response.
        resolve(response);
      },
    });
  });
}
