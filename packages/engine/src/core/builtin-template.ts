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

/**
 * A built-in row as this server's recipe of its image would make it. Creates fork an existing
 * template as it is, so after an upgrade that changed a built-in image's recipe the row would
 * fork the old image until someone built it again: the first create of each built-in per
 * engine prepares it once more (a cache lookup when the image is current, the build when the
 * recipe changed, as the first use of a new template does) and moves the row to the new key,
 * keeping the network its owner chose. Rows built from a spec or imported are left as they are.
 */
export async function currentBuiltinRow(
  deps: { driver: SandboxDriver; store: StateStore; dropPooled(templateId: string): Promise<void> },
  row: TemplateRow,
): Promise<TemplateRow> {
  const image = resolveImage(row.id);
  if (row.config !== undefined || row.image !== image.name) return row;
  const key = await deps.driver.prepareTemplate(row.id, image, () => {});
  const current = deps.store.template(row.id);
  if (!current || current.imageKey === key) return current ?? row;
  const moved: TemplateRow = { ...current, imageKey: key, limits: image.limits, createdAt: new Date() };
  deps.store.upsertTemplate(moved);
  // Its pooled sandboxes run the old image; the caller's take refills the pool with the new one.
  await deps.dropPooled(row.id);
  return moved;
}
