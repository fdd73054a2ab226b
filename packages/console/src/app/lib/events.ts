/**
 * The live list: GET /v1/events read with fetch (EventSource cannot send the key), parsed as
 * server-sent events, and reopened with backoff when the connection drops. Each reconnect
 * starts from the server's fresh snapshot, so the list is never stale after a gap.
 */
import type { ServerEventData, ServerEventType } from '@mitos/protocol';
import { ApiError, lines, request } from './api.js';

export type Connection = 'connecting' | 'live' | 'lost';

/** One pushed message, narrowed by its type. */
export type ServerEvent = { [T in ServerEventType]: { type: T; data: ServerEventData<T> } }[ServerEventType];

export interface EventHandlers {
  onEvent(event: ServerEvent): void;
  onConnection(state: Connection, retryInMs?: number): void;
  /** A refusal reconnecting cannot fix (the key was revoked): the stream stops. */
  onFatal(err: ApiError): void;
}

const MAX_BACKOFF_MS = 5000;

export function subscribeEvents(handlers: EventHandlers): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;

  const open = async () => {
    if (stopped) return;
    controller = new AbortController();
    handlers.onConnection('connecting');
    try {
      const response = await requestWithSignal(controller.signal);
      failures = 0;
      handlers.onConnection('live');
      await readEvents(response, handlers);
    } catch (err) {
      if (stopped) return;
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        handlers.onFatal(err);
        return;
      }
    }
    if (stopped) return;
    failures++;
    const wait = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(failures, 5));
    handlers.onConnection('lost', wait);
    timer = setTimeout(open, wait);
  };
  void open();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    controller?.abort();
  };
}

function requestWithSignal(signal: AbortSignal): Promise<Response> {
  // request() has no signal parameter; racing the abort keeps it simple and the body is cancelled below.
  return new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true });
    request('GET', '/v1/events').then((r) => {
      if (signal.aborted) void r.body?.cancel();
      else {
        signal.addEventListener('abort', () => void r.body?.cancel(), { once: true });
        resolve(r);
      }
    }, reject);
  });
}

async function readEvents(response: Response, handlers: EventHandlers): Promise<void> {
  let event = 'message';
  let data: string[] = [];
  for await (const line of lines(response)) {
    if (line === '') {
      if (data.length > 0) dispatch(handlers, event, data.join('\n'));
      event = 'message';
      data = [];
    } else if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
}

function dispatch(handlers: EventHandlers, event: string, data: string): void {
  if (event === 'snapshot' || event === 'sandbox' || event === 'gone' || event === 'usage') {
    handlers.onEvent({ type: event, data: JSON.parse(data) } as ServerEvent);
  }
}
