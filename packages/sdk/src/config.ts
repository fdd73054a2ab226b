/**
 * Client configuration: which server to talk to and which API key to send.
 * Precedence follows wire-v1.md 1.1 in its TypeScript flavour (an empty string counts as
 * "not set"), with one difference: the default server is the local `mitos serve`.
 * @module
 */
import { type Credentials, credentialsPath, readCredentials } from './credentials.js';

/** Where `mitos serve` listens by default. */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';

export type ApiKeySource = 'argument' | 'env' | 'credentials' | 'none';
export type BaseUrlSource = 'argument' | 'env' | 'credentials' | 'default';

export interface ConfigInput {
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
}

/** Holds the raw key: never log or print this object as a whole. */
export interface ResolvedConfig {
  apiKey: string | undefined;
  apiKeySource: ApiKeySource;
  baseUrl: string;
  baseUrlSource: BaseUrlSource;
  /** The credentials file consulted (whether or not it exists). */
  credentialsPath: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Resolve the API key (argument, `MITOS_API_KEY`, credentials `token`, none) and the base
 * URL (argument, `MITOS_BASE_URL`, credentials `base_url`, {@link DEFAULT_BASE_URL}).
 *
 * @example
 * const { baseUrl, apiKeySource } = resolveConfig({ baseUrl: process.argv[2] });
 */
export function resolveConfig(input: ConfigInput = {}, env: Env = process.env): ResolvedConfig {
  let creds: Credentials | undefined;
  let credsRead = false;
  // Read the file only when something is still unresolved, and at most once.
  const fromFile = (field: 'token' | 'base_url'): string | undefined => {
    if (!credsRead) {
      creds = readCredentials(env);
      credsRead = true;
    }
    const value = creds?.[field];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };

  // Each setting is the first that is set of its argument, its variable and its file field.
  const firstSet = (
    argument: string | undefined,
    fromEnv: string | undefined,
    field: 'token' | 'base_url',
  ): [string, 'argument' | 'env' | 'credentials'] | [undefined, undefined] => {
    if (argument) return [argument, 'argument'];
    if (fromEnv) return [fromEnv, 'env'];
    const value = fromFile(field);
    return value ? [value, 'credentials'] : [undefined, undefined];
  };

  const [apiKey, apiKeySource = 'none'] = firstSet(input.apiKey, env.MITOS_API_KEY, 'token');
  const [url = '', urlSource = 'default'] = firstSet(input.baseUrl, env.MITOS_BASE_URL, 'base_url');
  // A URL that is nothing but slashes counts as not set.
  const baseUrl = stripTrailingSlashes(url);
  return {
    apiKey,
    apiKeySource,
    baseUrl: baseUrl || DEFAULT_BASE_URL,
    baseUrlSource: baseUrl ? urlSource : 'default',
    credentialsPath: credentialsPath(env),
  };
}

export function stripTrailingSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}
