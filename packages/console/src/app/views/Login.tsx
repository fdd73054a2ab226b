/**
 * The key form. method="post" is a safeguard: were the script ever not to intercept the
 * submit, the key would travel in a body, never in the address bar or a server log.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../lib/api.js';
import { saveKey } from '../lib/session.js';
import { useAction } from '../lib/use-action.js';
import { ErrorBox } from './ErrorBox.js';

export function Login({ onLoggedIn }: { onLoggedIn: () => void }) {
  const [key, setKey] = useState('');
  const { busy, error, run } = useAction();
  const input = useRef<HTMLInputElement>(null);
  // The form's only field: focus it so the key can be typed at once.
  useEffect(() => input.current?.focus(), []);
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await call('GET', '/v1/health', undefined, key.trim());
      saveKey(key.trim());
      onLoggedIn();
    });
  };
  return (
    <main class="login">
      <form method="post" onSubmit={submit} aria-labelledby="login-title" autocomplete="off">
        <h1 id="login-title">mitos console</h1>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          ref={input}
          placeholder="the key given to mitos serve --api-key"
        />
        <p class="hint">Kept only in this tab (session storage); leave empty for a server without keys.</p>
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}
