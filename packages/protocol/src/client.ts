/**
 * `@mitos/protocol/client`: what a client needs at run time (ids, timeouts, redaction), without
 * zod. A command-line client pays for every module it loads at start-up; the schemas are the
 * server's to validate with, and clients use only their types (erased at build).
 * @module
 */
export * from './fork-report.js';
export * from './ids.js';
export * from './limits.js';
export * from './redact.js';
