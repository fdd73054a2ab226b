/** The per-sandbox disk limit, checked against what the storage can enforce. */
import { MitosError } from '@mitos/protocol';
import type { ResourceLimits } from '../../engine.js';
import type { SandboxStorage } from '../../storage/storage.js';

/** Refuse a disk limit the storage cannot enforce before anything is made. */
export function checkDiskLimit(storage: SandboxStorage, limits: ResourceLimits): void {
  const bytes = limits.diskBytes ?? 0;
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new MitosError('invalid_request', `invalid resource limits: diskBytes=${bytes}`);
  }
  if (bytes > 0 && typeof storage.limitDisk !== 'function') {
    throw new MitosError(
      'host_unsupported',
      `the ${storage.kind} storage cannot limit disk use per sandbox`,
      {},
      { remediation: 'create the sandbox without a disk limit, or use btrfs storage on Linux 6.7 or later' },
    );
  }
}
