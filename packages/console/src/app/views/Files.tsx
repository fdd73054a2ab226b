/**
 * A file browser over /v1/files: list a directory, open text and images, download, upload,
 * and edit small text files in place.
 */
import type { FileEntryWire } from '@mitos/protocol';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { bytesToHex, call, hexToBytes } from '../lib/api.js';
import { bytes } from '../lib/format.js';
import { ErrorBox } from './ErrorBox.js';

/** Larger files can be downloaded but not edited in the page. */
const MAX_EDIT_BYTES = 256 * 1024;
const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
};

interface Opened {
  path: string;
  size: number;
  bytes: Uint8Array<ArrayBuffer>;
  text: string | undefined;
  image: string | undefined;
}

export function Files({ sandboxId }: { sandboxId: string }) {
  const [dir, setDir] = useState('/workspace');
  const [entries, setEntries] = useState<FileEntryWire[]>([]);
  const [opened, setOpened] = useState<Opened>();
  const [draft, setDraft] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState('');

  const list = useCallback(
    async (path: string) => {
      setError(undefined);
      try {
        const reply = await call<{ entries: FileEntryWire[] }>('POST', '/v1/files/list', { sandbox: sandboxId, path });
        setEntries(reply.entries.sort((a, b) => Number(b.is_dir) - Number(a.is_dir) || a.name.localeCompare(b.name)));
        setDir(path);
      } catch (err) {
        setError(err);
      }
    },
    [sandboxId],
  );
  useEffect(() => void list('/workspace'), [list]);

  const open = async (path: string) => {
    setError(undefined);
    setDraft(undefined);
    try {
      const reply = await call<{ content: string; size: number }>('POST', '/v1/files/read', {
        sandbox: sandboxId,
        path,
        binary: true,
      });
      const data = hexToBytes(reply.content);
      const type = IMAGE_TYPES[path.split('.').pop()?.toLowerCase() ?? ''];
      setOpened({
        path,
        size: reply.size,
        bytes: data,
        text: type ? undefined : asText(data),
        image: type ? URL.createObjectURL(new Blob([data], { type })) : undefined,
      });
    } catch (err) {
      setError(err);
    }
  };
  const write = async (path: string, data: Uint8Array) => {
    await call('POST', '/v1/files/write', { sandbox: sandboxId, path, content: bytesToHex(data), binary: true });
  };
  const upload = async (e: Event) => {
    const input = e.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    setError(undefined);
    try {
      for (const file of files) {
        setStatus(`Uploading ${file.name}…`);
        await write(join(dir, file.name), new Uint8Array(await file.arrayBuffer()));
      }
      setStatus(files.length > 0 ? `Uploaded ${files.map((f) => f.name).join(', ')}` : '');
      await list(dir);
    } catch (err) {
      setError(err);
      setStatus('');
    }
    input.value = '';
  };
  const save = async () => {
    if (!opened || draft === undefined) return;
    try {
      const data = new TextEncoder().encode(draft);
      await write(opened.path, data);
      setOpened({ ...opened, bytes: data, size: data.length, text: draft });
      setDraft(undefined);
      setStatus(`Saved ${opened.path}`);
      await list(dir);
    } catch (err) {
      setError(err);
    }
  };
  const download = () => {
    if (!opened) return;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([opened.bytes]));
    link.download = opened.path.split('/').pop() ?? 'file';
    link.click();
    // Revoking at once can cancel the download the click just started: the URL goes later.
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  };

  return (
    <div class="files">
      <div class="bar">
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void list(((e.target as HTMLFormElement).elements.namedItem('path') as HTMLInputElement).value);
          }}
        >
          <label class="inline">
            Path <input name="path" value={dir} key={dir} class="wide" />
          </label>
          <button type="submit">Open</button>
          <button type="button" disabled={dir === '/'} onClick={() => void list(parent(dir))}>
            Up
          </button>
        </form>
        <label class="button">
          Upload
          <input type="file" multiple class="sr-only" onChange={upload} aria-label="Upload files" />
        </label>
        <span role="status" class="hint">
          {status}
        </span>
      </div>
      <ErrorBox error={error} onDismiss={() => setError(undefined)} />
      <div class="split">
        <ul class="file-list" aria-label={`Files in ${dir}`}>
          {entries.map((entry) => (
            <li key={entry.name}>
              <button
                type="button"
                class="link"
                onClick={() => void (entry.is_dir ? list(join(dir, entry.name)) : open(join(dir, entry.name)))}
              >
                {entry.is_dir ? '📁 ' : ''}
                {entry.name}
              </button>
              <span class="meta">{entry.is_dir ? '' : bytes(entry.size)}</span>
            </li>
          ))}
          {entries.length === 0 && <li class="empty">Empty directory</li>}
        </ul>
        {opened && (
          <section class="viewer" aria-label={`Contents of ${opened.path}`}>
            <div class="bar">
              <code>{opened.path}</code>
              <span class="meta">{bytes(opened.size)}</span>
              <button type="button" class="small" onClick={download}>
                Download
              </button>
              {opened.text !== undefined && opened.size <= MAX_EDIT_BYTES && draft === undefined && (
                <button type="button" class="small" onClick={() => setDraft(opened.text)}>
                  Edit
                </button>
              )}
              {draft !== undefined && (
                <>
                  <button type="button" class="small" onClick={() => void save()}>
                    Save
                  </button>
                  <button type="button" class="small ghost" onClick={() => setDraft(undefined)}>
                    Cancel
                  </button>
                </>
              )}
            </div>
            {opened.image && <img src={opened.image} alt={opened.path} />}
            {draft !== undefined ? (
              <textarea
                value={draft}
                onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
                aria-label="File contents"
                spellcheck={false}
              />
            ) : (
              opened.text !== undefined && <pre>{opened.text}</pre>
            )}
            {opened.text === undefined && !opened.image && <p class="hint">Binary file: download it to open it.</p>}
          </section>
        )}
      </div>
    </div>
  );
}

function join(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

function parent(dir: string): string {
  const up = dir.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
  return up === '' ? '/' : up;
}

/** UTF-8 text, or undefined for bytes that are not (shown as binary). */
function asText(data: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
}
