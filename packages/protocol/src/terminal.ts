/**
 * Names of the terminal WebSocket (wire-v1.md 4.18). Kept free of zod so the browser console
 * can import them (`@mitos/protocol/terminal`) without bundling the schemas.
 */

/** The subprotocol a terminal client offers and the server must select. */
export const PTY_SUBPROTOCOL = 'mitos.pty.v1';

/**
 * Prefix of a second offered subprotocol that carries the bearer key where a browser cannot
 * set an Authorization header: `new WebSocket(url, [PTY_SUBPROTOCOL, prefix + base64url(key)])`.
 * The server reads it on upgrades only and never selects it, so it is not echoed back.
 */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.mitos.run.';
