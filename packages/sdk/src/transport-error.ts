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
