/**
 * The API key for this tab. Kept in sessionStorage (gone when the tab closes, never shared
 * with other tabs), and never put in a URL, a title or a log line.
 */
const KEY = 'mitos.apiKey';

export function savedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function saveKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}
