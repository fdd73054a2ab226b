export { BlobStore, type ObjectBackend, parseEncryptionKey } from './blob-store.js';
export type { RevisionRow, WorkspaceRow } from './catalog.js';
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
export { DEFAULT_TREE_LIMITS, type TreeLimits } from './tree.js';
