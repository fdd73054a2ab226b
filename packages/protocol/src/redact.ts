/** Replace every occurrence of each secret with [REDACTED]; empty secrets are ignored. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length > 0) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}
