import assert from 'node:assert/strict';

/**
 * A JSON caller for a live server's /v1 API with one bearer key: each call must succeed (the
 * assertion names the route and the server's answer), and answers the parsed body.
 */
export function bearerApi(baseUrl: () => string, key: string) {
  return async <T = unknown>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
    return res.json() as Promise<T>;
  };
}
