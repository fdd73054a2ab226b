/**
 * `@mitos/server/connect`: the generated sandbox.v1 messages and service descriptor (for a
 * Connect client of this server: tests, the benchmark) and the terminal WebSocket subprotocol.
 */
export * from './gen/sandbox/v1/sandbox_pb.js';
export { CONNECT_WS_SUBPROTOCOL } from './terminal.js';
