export * from './errors.js';
export * from './events.js';
export * from './ids.js';
export * from './openapi.js';
export * from './requests.js';
export * from './terminal.js';
export * from './wire.js';
export * from './workspaces.js';
