/**
 * The workspace store of a server: records in the server's database; objects in
 * `<state>/workspaces/objects`, or in an S3-compatible bucket when MITOS_WORKSPACE_S3_BUCKET
 * is set (MITOS_WORKSPACE_S3_ENDPOINT, _REGION, _PREFIX; credentials from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); sealed with AES-256-GCM when an encryption key
 * file is given (or MITOS_WORKSPACE_KEY_FILE names one).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BlobStore,
  type Engine,
  LocalBackend,
  type ObjectBackend,
  parseEncryptionKey,
  S3Backend,
  type StateDatabase,
  Workspaces,
} from '@mitos/engine';
import { MitosError } from '@mitos/protocol';

export interface OpenWorkspacesOptions {
  stateDir: string;
  db: StateDatabase;
  engine: Engine;
  /** A file holding a 32-byte key (64 hex characters or base64). */
  encryptionKeyFile?: string;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
}

export function openWorkspaces(o: OpenWorkspacesOptions): Workspaces {
  const keyFile = o.encryptionKeyFile ?? process.env.MITOS_WORKSPACE_KEY_FILE;
  let key: Buffer | undefined;
  if (keyFile !== undefined && keyFile !== '') {
    let text: string;
    try {
      text = readFileSync(keyFile, 'utf8');
    } catch (err) {
      throw new MitosError('invalid_request', `cannot read the workspace key file ${keyFile}`, {}, { cause: err });
    }
    key = parseEncryptionKey(text);
  }
  const store = new BlobStore(backendFor(o.stateDir, o.env ?? process.env), key);
  return new Workspaces({ engine: o.engine, db: o.db, store });
}

function backendFor(stateDir: string, env: NodeJS.ProcessEnv): ObjectBackend {
  const bucket = env.MITOS_WORKSPACE_S3_BUCKET;
  if (bucket === undefined || bucket === '') return new LocalBackend(join(stateDir, 'workspaces', 'objects'));
  const accessKeyId = env.AWS_ACCESS_KEY_ID ?? '';
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? '';
  if (accessKeyId === '' || secretAccessKey === '') {
    throw new MitosError(
      'invalid_request',
      'MITOS_WORKSPACE_S3_BUCKET is set but the S3 credentials are not',
      {},
      {
        remediation: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the workspace bucket',
      },
    );
  }
  return new S3Backend({
    bucket,
    endpoint: env.MITOS_WORKSPACE_S3_ENDPOINT || undefined,
    region: env.MITOS_WORKSPACE_S3_REGION || undefined,
    prefix: env.MITOS_WORKSPACE_S3_PREFIX || undefined,
    accessKeyId,
    secretAccessKey,
  });
}
