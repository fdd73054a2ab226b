export { defaultAgentPath, LinuxEngine, type LinuxEngineOptions } from './drivers/linux/driver.js';
export { MicroVmEngine, type MicroVmEngineOptions } from './drivers/microvm/driver.js';
export * from './engine.js';
export { type HostCheck, type HostReport, runHostChecks } from './host/doctor.js';
export { openDatabase, type StateDatabase } from './state/database.js';
export { IMAGES, resolveImage } from './templates/images.js';
