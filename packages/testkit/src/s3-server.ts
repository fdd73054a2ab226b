/**
 * Test-only: a real S3-compatible server (s3rver) on 127.0.0.1 with its data under a
 * mitos-test-* directory, one bucket made, its credentials the server's fixed pair.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface TestS3 {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Whether any stored object's bytes contain `needle` (to check that content is sealed). */
  holds(needle: string): boolean;
  close(): Promise<void>;
}

export async function startTestS3(bucket = 'workspaces'): Promise<TestS3> {
  // Loaded here, not with the testkit: most tests never start one.
  const { default: S3rver } = await import('s3rver');
  const dir = mkdtempSync('/tmp/mitos-test-s3-');
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    holds: (needle) => filesUnder(dir).some((f) => readFileSync(f).includes(needle)),
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
