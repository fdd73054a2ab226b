/**
 * The engine's built-in images (its catalogue: `IMAGES` in @mitos/engine, which a unit test keeps
 * this equal to). Listed here so the controller process does not load the engine to know them.
 * A template naming one with no recipe is prepared by name; a node that lacks its tree fetches it
 * from a node that has it (node/builtin-images.ts) instead of building it.
 * @module
 */
export const BUILT_IN_IMAGES: ReadonlySet<string> = new Set([
  'base',
  'python',
  'node',
  'e2b-base',
  'code-interpreter',
  'e2b-node',
]);

export function isBuiltInImage(image: string): boolean {
  return BUILT_IN_IMAGES.has(image);
}
