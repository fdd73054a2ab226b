/** The built-in templates (python, node, base): prepared by the driver from a cached image, recorded once. */
import { DENY_POSTURE } from '@mitos/protocol';
import type { CreateTemplateOptions, TemplateInfo } from '../engine.js';
import type { StateStore, TemplateRow } from '../state/store.js';
import { resolveImage } from '../templates/images.js';
import type { SandboxDriver } from './driver.js';
import { admitted } from './network.js';
import { assertValidId, publicTemplate } from './rows.js';

/** Get-or-create; a rebuilt image (new key) is a new creation time; the warm pool refills either way. */
export async function ensureBuiltinTemplate(
  deps: { driver: SandboxDriver; store: StateStore; refill(templateId: string): void },
  options: CreateTemplateOptions,
): Promise<TemplateInfo> {
  assertValidId('template', options.id);
  const started = performance.now();
  const image = resolveImage(options.id);
  const network = admitted(deps.driver, options.network ?? DENY_POSTURE);
  const key = await deps.driver.prepareTemplate(options.id, image, (line) => options.onProgress?.(line));
  const existing = deps.store.template(options.id);
  const same = existing !== undefined && existing.imageKey === key;
  const row: TemplateRow = {
    id: options.id,
    image: image.name,
    imageKey: key,
    ready: true,
    createdAt: same ? existing.createdAt : new Date(),
    creationTimeMs: same ? existing.creationTimeMs : performance.now() - started,
    network,
    limits: image.limits,
  };
  deps.store.upsertTemplate(row);
  deps.refill(row.id);
  return publicTemplate(row);
}
