/**
 * OCI image references as users write them (`python:3.12-slim`, `ghcr.io/org/img@sha256:...`,
 * `127.0.0.1:5000/team/app:v1`) made fully qualified, the way Docker reads them: no registry
 * means Docker Hub, and a one-part Hub name is in `library/`.
 */
import { MitosError } from '@mitos/protocol';

export interface ImageReference {
  /** registry host[:port] */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
  /** `registry/repository[:tag][@digest]`, what skopeo's docker:// transport takes. */
  canonical: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export function parseReference(raw: string): ImageReference {
  const bad = (why: string) =>
    new MitosError(
      'invalid_request',
      `invalid image reference ${JSON.stringify(raw)}: ${why}`,
      {},
      {
        remediation: 'use [registry/]name[:tag][@sha256:digest], e.g. python:3.12-slim',
      },
    );
  const ref = raw.trim();
  if (ref === '' || ref.length > 512 || /\s/.test(ref)) throw bad('empty, too long or has spaces');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw bad('the digest must be sha256:<64 hex>');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw bad('invalid tag');
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0] as string;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
  }
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) throw bad('invalid repository name');
  const repository = parts.join('/');
  if (!tag && !digest) tag = 'latest';
  const canonical = `${registry}/${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), canonical };
}

/** Registries reached over plain HTTP: loopback only, unless the operator lists more. */
export function isInsecureRegistry(registry: string, extra: readonly string[] = []): boolean {
  const host = registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || extra.includes(registry);
}
