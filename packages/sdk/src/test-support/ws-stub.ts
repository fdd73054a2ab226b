/**
 * A WebSocket server on 127.0.0.1:0 for terminal tests: it records each upgrade request and
 * hands accepted sockets to the test. Test-only; not exported from the package.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface WsStub {
  baseUrl: string;
  upgrades: IncomingMessage[];
  /** Called for every accepted socket. */
  onConnection: (ws: WebSocket, req: IncomingMessage) => void;
  /** Answer the upgrade with this HTTP response instead of accepting it. */
  reject?: { status: number; body: string } | undefined;
  /** Which offered subprotocol to select; false selects none. */
  selectProtocol: (offered: Set<string>) => string | false;
  close(): Promise<void>;
}

export async function startWsStub(): Promise<WsStub> {
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => stub.selectProtocol(offered) });
  const http = createServer((_req, res) => res.writeHead(404).end());
  const stub: WsStub = {
    baseUrl: '',
    upgrades: [],
    onConnection: () => {},
    selectProtocol: (offered) => (offered.has('mitos.pty.v1') ? 'mitos.pty.v1' : false),
    close: async () => {},
  };
  http.on('upgrade', (req, socket, head) => {
    stub.upgrades.push(req);
    if (stub.reject) {
      const { status, body } = stub.reject;
      socket.end(
        `HTTP/1.1 ${status} Error\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => stub.onConnection(ws, req));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  stub.baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      http.closeAllConnections();
      http.close(() => resolve());
    });
  return stub;
}

/** Parse one client frame. */
export function frameOf(data: unknown): Record<string, unknown> {
  return JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : String(data)) as Record<string, unknown>;
}
