export { BlobStore, type ObjectBackend, parseEncryptionKey } from './blob-store.js';
export type { RevisionRow, WorkspaceRow, WriterEnd } from './catalog.js';
export { LocalBackend } from './local-backend.js';
export { decodeManifest, diffManifests, encodeManifest, type Manifest, manifestDigest, sha256 } from './manifest.js';
export { S3Backend, type S3BackendOptions } from './s3-backend.js';
export {
  type CommitResult,
  type Retention,
  requireWorkspaceName,
  Workspaces,
  type WorkspacesOptions,
} from './service.js';
export { type CapturedRevision, type CaptureOptions, captureToStore, hydrateFromStore } from './transfer.js';
export { DEFAULT_TREE_LIMITS, type TreeLimits } from './tree.js';
export { commitWritersOnEnd, endWriter } from './writer-end.js';
