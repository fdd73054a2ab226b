/**
 * For node tests of template transfer: asks a holder's control API to export a template (it
 * answers at once, `exporting`, then `ready` with the manifest digest) until it is exported.
 * @module
 */
import assert from 'node:assert/strict';
import { until } from '@mitos/testkit';

export async function exportedDigest(endpoint: string, image: string, nodeKey: string): Promise<string> {
  let digest = '';
  await until(
    async () => {
      const res = await fetch(`http://${endpoint}/node/v1/templates/${image}/export`, {
        method: 'POST',
        headers: { authorization: `Bearer ${nodeKey}` },
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { state: string; digest?: string };
      digest = body.digest ?? '';
      return body.state === 'ready';
    },
    300_000,
    `the export of ${image}`,
  );
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  return digest;
}
