/** The shell: sign-in gate, navigation, the live-connection banner, and the current view. */
import { useEffect, useState } from 'preact/hooks';
import { subscribeEvents } from '../lib/events.js';
import { href, useRoute } from '../lib/router.js';
import { forgetKey, savedKey } from '../lib/session.js';
import { applyEvent, store, useStore } from '../lib/store.js';
import { ErrorBox } from './ErrorBox.js';
import { ForkTree } from './ForkTree.js';
import { Login } from './Login.js';
import { SandboxList } from './SandboxList.js';
import { SandboxPage } from './SandboxPage.js';
import { ServerView } from './ServerView.js';
import { Templates } from './Templates.js';
import { currentTheme, toggleTheme } from './theme.js';

export function App() {
  const [signedIn, setSignedIn] = useState(savedKey() !== null);
  if (!signedIn) return <Login onLoggedIn={() => setSignedIn(true)} />;
  return (
    <Shell
      onSignOut={() => {
        forgetKey();
        setSignedIn(false);
      }}
    />
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const route = useRoute();
  const state = useStore();
  const [theme, setTheme] = useState(currentTheme());
  useEffect(() => startLiveList(), []);
  const nav = [
    ['sandboxes', 'Sandboxes'],
    ['templates', 'Templates'],
    ['server', 'Server'],
  ] as const;
  const active = route.view === 'sandbox' || route.view === 'tree' ? 'sandboxes' : route.view;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">mitos</span>
        <nav aria-label="Main">
          {nav.map(([view, label]) => (
            <a key={view} href={href(view)} aria-current={active === view ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`live live-${state.connection}`} title="live updates">
          {state.connection === 'live' ? '● live' : state.connection === 'connecting' ? '○ connecting' : '○ offline'}
        </span>
        <button type="button" class="ghost" onClick={() => setTheme(toggleTheme())} aria-label="Switch colour theme">
          {theme === 'dark' ? 'Light' : 'Dark'}
        </button>
        <button type="button" class="ghost" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {state.connection === 'lost' && (
        <div class="banner" role="alert">
          Connection to the server lost. Reconnecting
          {state.retryInMs === undefined ? '…' : ` in ${Math.ceil(state.retryInMs / 1000)} s…`}
        </div>
      )}
      {state.fatal && (
        <div class="banner-error">
          <ErrorBox error={state.fatal} />
          <button type="button" onClick={onSignOut}>
            Sign in again
          </button>
        </div>
      )}
      <main id="main" tabIndex={-1}>
        {route.view === 'sandboxes' && <SandboxList />}
        {route.view === 'sandbox' && <SandboxPage key={route.id} id={route.id} tab={route.tab} />}
        {route.view === 'tree' && <ForkTree id={route.id} />}
        {route.view === 'templates' && <Templates />}
        {route.view === 'server' && <ServerView />}
      </main>
    </div>
  );
}

function startLiveList(): () => void {
  return subscribeEvents({
    onConnection: (connection, retryInMs) => store.update(() => ({ connection, retryInMs })),
    onFatal: (fatal) => store.update(() => ({ fatal, connection: 'lost', retryInMs: undefined })),
    onEvent: (event) => store.update((s) => applyEvent(s, event)),
  });
}
