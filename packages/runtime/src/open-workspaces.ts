/**
 * The workspace store a server keeps under its state directory: objects in
 * `<state>/workspaces/objects`, records in the server's database, sealed with AES-256-GCM
 * when an encryption key file is given (or MITOS_WORKSPACE_KEY_FILE names one).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BlobStore,
  type Engine,
  LocalBackend,
  parseEncryptionKey,
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
  const store = new BlobStore(new LocalBackend(join(o.stateDir, 'workspaces', 'objects')), key);
  return new Workspaces({ engine: o.engine, db: o.db, store });
}
