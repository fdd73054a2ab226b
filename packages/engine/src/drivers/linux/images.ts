/**
 * The Linux driver's template images: storage that can publish and list images, with the one
 * step an image needs before it is published (resolv.conf back to the image's own).
 */
import type { DriverImages } from '../../core/driver.js';
import type { HostNetwork } from '../../network/host-network.js';
import { restoreImageResolvConf } from '../../network/resolv-conf.js';
import type { SandboxStorage } from '../../storage/storage.js';

/** Undefined where the storage cannot publish images (template builds are then refused). */
export function linuxDriverImages(storage: SandboxStorage, hostNetwork: HostNetwork): DriverImages | undefined {
  const { commitRoot, listImages, removeImage, imagePath, deriveImage } = storage;
  if (!commitRoot || !listImages || !removeImage || !imagePath) return undefined;
  return {
    has: (key) => storage.hasImage(key),
    commit: (id, key, replace) => {
      const root = storage.rootLayout(id);
      if (root) restoreImageResolvConf(root, hostNetwork.resolverAddress());
      return commitRoot.call(storage, id, key, replace);
    },
    importTree: (key, dir) => storage.importImage(key, dir),
    ...(deriveImage ? { derive: (key, parent, fill) => deriveImage.call(storage, key, parent, fill) } : {}),
    list: () => listImages.call(storage),
    remove: (key) => removeImage.call(storage, key),
    path: (key) => imagePath.call(storage, key),
  };
}
