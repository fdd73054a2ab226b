export { kernelSpec, WATCHER_IN_SANDBOX } from './agent/kernels.js';
export { removeCgroupParent } from './cgroups/detect.js';
export { linuxHostChecks } from './drivers/linux/doctor.js';
export { defaultAgentPath, LinuxEngine, type LinuxEngineOptions } from './drivers/linux/engine.js';
export { microvmHostChecks, microvmUnavailable } from './drivers/microvm/doctor.js';
export { MicroVmEngine, type MicroVmEngineOptions } from './drivers/microvm/engine.js';
export { shmDirFor } from './drivers/microvm/snapshots.js';
export * from './engine.js';
export { CRIU_PIN, criuTreePath } from './host/criu.js';
export {
  type HostCheck,
  type HostCheckOptions,
  type HostCheckSource,
  type HostReport,
  runHostChecks,
} from './host/doctor.js';
export { defaultCacheDir } from './host/state-dir.js';
export { openDatabase, type StateDatabase } from './state/database.js';
export type { BuildMetadata } from './templates/builder.js';
export type { BuiltImageCache } from './templates/image-archive.js';
export { IMAGES, resolveImage } from './templates/images.js';
export * from './workspaces/index.js';
