export * from './errors.js';
export * from './ids.js';
export * from './wire.js';
