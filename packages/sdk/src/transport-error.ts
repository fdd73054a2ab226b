/** fetch and ws wrap the socket error (ECONNREFUSED, ECONNRESET, ...) in a generic error. */
export function describeNetworkError(err: unknown): string {
  const inner = (err as { cause?: unknown } | undefined)?.cause;
  for (const e of [inner, err]) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      return typeof code === 'string' && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
    }
  }
  return String(err);
}

/** fetch (undici) refuses the Fetch standard's "bad ports" (9, 25, 6000, ...) before connecting. */
export function blockedPort(err: unknown): boolean {
  const inner = (err as { cause?: unknown } | undefined)?.cause;
  return [inner, err].some((e) => e instanceof Error && e.message === 'bad port');
}
