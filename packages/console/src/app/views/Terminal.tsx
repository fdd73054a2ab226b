/**
 * A live shell: xterm.js over GET /v1/pty (subprotocol mitos.pty.v1). Browsers cannot set an
 * Authorization header on a WebSocket, so the key rides as a second offered subprotocol that
 * the server reads and never selects. Frames are the wire's JSON with base64 bytes.
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal as XTerm } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { BEARER_SUBPROTOCOL_PREFIX, PTY_SUBPROTOCOL } from '@mitos/protocol/terminal';
import { useEffect, useRef, useState } from 'preact/hooks';
import { base64ToBytes, bytesToBase64 } from '../lib/api.js';
import { savedKey } from '../lib/session.js';

type Status = { kind: 'connecting' } | { kind: 'open' } | { kind: 'ended'; detail: string };

export function Terminal({ sandboxId }: { sandboxId: string }) {
  const host = useRef<HTMLElement>(null);
  const [status, setStatus] = useState<Status>({ kind: 'connecting' });
  const [generation, setGeneration] = useState(0);
  const term = useRef<XTerm>();

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const xterm = new XTerm({ cursorBlink: true, fontSize: 14, convertEol: false, theme: themeColors() });
    const fit = new FitAddon();
    xterm.loadAddon(fit);
    xterm.open(element);
    fit.fit();
    term.current = xterm;
    setStatus({ kind: 'connecting' });
    const socket = new WebSocket(ptyUrl(sandboxId, xterm.cols, xterm.rows), protocols());
    const send = (frame: object) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    };
    const encoder = new TextEncoder();
    socket.onopen = () => {
      setStatus({ kind: 'open' });
      xterm.focus();
    };
    socket.onmessage = (message) => {
      const frame = JSON.parse(String(message.data)) as {
        kind: string;
        data?: string;
        exit_code?: number;
        error?: string;
      };
      if (frame.kind === 'output' && frame.data) xterm.write(base64ToBytes(frame.data));
      if (frame.kind === 'exit') {
        setStatus({
          kind: 'ended',
          detail: `shell exited with code ${frame.exit_code ?? 0}${frame.error ? `: ${frame.error}` : ''}`,
        });
      }
    };
    socket.onclose = (event) =>
      setStatus((s) => (s.kind === 'ended' ? s : { kind: 'ended', detail: `connection closed (${event.code})` }));
    const input = xterm.onData((data) => send({ kind: 'input', data: bytesToBase64(encoder.encode(data)) }));
    const resize = xterm.onResize(({ cols, rows }) => send({ kind: 'resize', cols, rows }));
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(element);
    return () => {
      observer.disconnect();
      input.dispose();
      resize.dispose();
      socket.close();
      xterm.dispose();
      term.current = undefined;
    };
  }, [sandboxId, generation]);

  const copy = () => {
    const selection = term.current?.getSelection();
    if (selection) void navigator.clipboard.writeText(selection);
  };
  const paste = async () => {
    const text = await navigator.clipboard.readText();
    term.current?.paste(text);
    term.current?.focus();
  };
  return (
    <div class="terminal-panel">
      <div class="bar">
        <span class="hint" role="status">
          {status.kind === 'connecting'
            ? 'Connecting…'
            : status.kind === 'open'
              ? 'Connected'
              : `Ended: ${status.detail}`}
        </span>
        <button type="button" class="small" onClick={copy}>
          Copy selection
        </button>
        <button type="button" class="small" onClick={() => void paste()}>
          Paste
        </button>
        {status.kind === 'ended' && (
          <button type="button" class="small" onClick={() => setGeneration((g) => g + 1)}>
            Reconnect
          </button>
        )}
      </div>
      <section class="term-host" ref={host} aria-label="Terminal" />
    </div>
  );
}

function ptyUrl(sandboxId: string, cols: number, rows: number): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v1/pty?sandbox=${encodeURIComponent(sandboxId)}&cols=${cols}&rows=${rows}`;
}

function protocols(): string[] {
  const key = savedKey();
  if (!key) return [PTY_SUBPROTOCOL];
  const encoded = bytesToBase64(new TextEncoder().encode(key))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  return [PTY_SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${encoded}`];
}

function themeColors() {
  const css = getComputedStyle(document.documentElement);
  return { background: css.getPropertyValue('--term-bg').trim(), foreground: css.getPropertyValue('--term-fg').trim() };
}
