/**
 * Adding and removing our finalizers with a merge patch that carries the object's
 * resourceVersion, so a concurrent change (another finalizer, a deletion) is a 409 and the
 * reconcile retries on fresh data instead of overwriting it.
 * @module
 */
import type { KubeObject } from '../api/meta.js';
import type { KubeClient } from '../kube/client.js';
import type { ResourceType } from '../kube/resources.js';

export function hasFinalizer(object: KubeObject, finalizer: string): boolean {
  return object.metadata.finalizers?.includes(finalizer) ?? false;
}

export async function addFinalizer<T extends KubeObject>(
  kube: KubeClient,
  type: ResourceType,
  object: T,
  finalizer: string,
): Promise<T> {
  if (hasFinalizer(object, finalizer)) return object;
  return setFinalizers(kube, type, object, [...(object.metadata.finalizers ?? []), finalizer]);
}

export async function removeFinalizer<T extends KubeObject>(
  kube: KubeClient,
  type: ResourceType,
  object: T,
  finalizer: string,
): Promise<T> {
  if (!hasFinalizer(object, finalizer)) return object;
  return setFinalizers(
    kube,
    type,
    object,
    (object.metadata.finalizers ?? []).filter((f) => f !== finalizer),
  );
}

function setFinalizers<T extends KubeObject>(
  kube: KubeClient,
  type: ResourceType,
  object: T,
  finalizers: string[],
): Promise<T> {
  const { namespace, name, resourceVersion } = object.metadata;
  return kube.patch<T>(type, namespace ?? '', name ?? '', { metadata: { finalizers, resourceVersion } });
}
