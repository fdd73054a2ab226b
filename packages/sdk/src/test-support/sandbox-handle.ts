/** A Sandbox handle on a stub server without the create() round trips. Test-only. */
import { HttpClient } from '../http.js';
import { Sandbox } from '../sandbox.js';

export const TEST_KEY = 'sk-test-7f3a9c0d2e4b';

export function sandboxOn(baseUrl: string, id = 'sb-1', apiKey: string | undefined = TEST_KEY): Sandbox {
  const info = { id, templateId: 'python', endpoint: '', createdAt: undefined, forkTimeMs: 0, state: undefined };
  return new Sandbox(info, new HttpClient({ baseUrl, apiKey }));
}
