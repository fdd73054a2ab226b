/**
 * The WebSocket side of terminals: the `ws` server in noServer mode (the app's upgrade handler
 * feeds it), which must select subprotocol `mitos.pty.v1`, because the seed's sync Python
 * client aborts a handshake that does not echo it.
 */
import { PTY_SUBPROTOCOL } from '@mitos/protocol';
import { type WebSocket, WebSocketServer } from 'ws';
import type { UpgradeRequest } from '../env.js';

export { PTY_SUBPROTOCOL };

/** Input frames are keystrokes and pastes; a megabyte is a very large paste. */
const MAX_FRAME_BYTES = 1024 * 1024;

/** `subprotocol`: the one a client must offer (the Connect terminal has its own). */
export function createTerminalSocketServer(subprotocol = PTY_SUBPROTOCOL): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(subprotocol) ? subprotocol : false),
  });
}

/**
 * Completes the handshake on a claimed upgrade. Resolves undefined when there is no WebSocket
 * after all (the client left, or `ws` refused a malformed handshake and answered it itself).
 */
export function acceptWebSocket(server: WebSocketServer, upgrade: UpgradeRequest): Promise<WebSocket | undefined> {
  const { incoming, socket, head } = upgrade;
  if (socket.destroyed) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onClose = () => resolve(undefined);
    socket.once('close', onClose);
    server.handleUpgrade(incoming, socket, head, (ws) => {
      socket.off('close', onClose);
      resolve(ws);
    });
  });
}
