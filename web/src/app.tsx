import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, signedOut } from './api.ts';
import { Link } from './components/link.tsx';
import { ConnectionsPage } from './pages/connections.tsx';
import { LoginPage } from './pages/login.tsx';
import { ReviewsPage } from './pages/reviews.tsx';
import { SessionPage } from './pages/session.tsx';
import { SessionsPage } from './pages/sessions.tsx';
import { TokensPage } from './pages/tokens.tsx';
import { can } from './roles.ts';
import { navigate, useRoute } from './router.ts';
import type { Me } from './types.ts';

export function App() {
  // undefined while asking who is signed in; null when nobody is.
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState('');

  useEffect(() => {
    api<Me>('/api/me').then(setMe, (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) setMe(null);
      else setError((err as Error).message);
    });
    const out = () => setMe(null);
    signedOut.addEventListener('signed-out', out);
    return () => signedOut.removeEventListener('signed-out', out);
  }, []);

  if (error) return <div class="center-card"><h1>Airlock</h1><p class="error">The gateway did not answer: {error}</p></div>;
  if (me === undefined) return <div class="center-card muted">Loading…</div>;
  if (me === null) return <LoginPage onSignedIn={setMe} />;
  return <Shell me={me} onSignedOut={() => setMe(null)} />;
}

function Shell({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const route = useRoute();
  const signOut = async () => {
    try {
      await api('/api/web-session/logout', { method: 'POST' });
    } finally {
      navigate('/', { replace: true });
      onSignedOut();
    }
  };
  const section = route.path.split('/')[1] || 'sessions';
  const nav = (href: string, label: string, name: string) => (
    <Link href={href} class={section === name ? 'active' : undefined}>{label}</Link>
  );
  return (
    <div class="shell">
      <header class="topbar">
        <Link href="/sessions" class="brand">Airlock</Link>
        <nav>
          {nav('/sessions', 'Sessions', 'sessions')}
          {can(me, 'review') && nav('/reviews', 'Review queue', 'reviews')}
          {nav('/connections', 'Connections', 'connections')}
          {can(me, 'tokens') && nav('/tokens', 'Tokens', 'tokens')}
        </nav>
        <div class="whoami">
          <span id="whoami" title={`groups: ${me.groups.join(', ') || 'none'}`}>{me.subject}</span>
          <span class="roles">{me.roles.filter((r) => r !== 'user').join(' · ') || 'user'}</span>
          <button type="button" class="link" id="sign-out" onClick={signOut}>Sign out</button>
        </div>
      </header>
      <main class="content">
        <Screen me={me} path={route.path} params={route.params} />
      </main>
    </div>
  );
}

function Screen({ me, path, params }: { me: Me; path: string; params: URLSearchParams }) {
  if (path === '/' || path === '/sessions') return <SessionsPage me={me} params={params} />;
  const session = /^\/sessions\/([^/]+)$/.exec(path);
  if (session) return <SessionPage me={me} id={decodeURIComponent(session[1])} params={params} />;
  if (path === '/reviews' && can(me, 'review')) return <ReviewsPage me={me} />;
  if (path === '/connections') return <ConnectionsPage />;
  if (path === '/tokens' && can(me, 'tokens')) return <TokensPage />;
  return (
    <div class="panel">
      <h1>Not here</h1>
      <p>There is no such page, or your role does not include it. <Link href="/sessions">Back to the sessions</Link></p>
    </div>
  );
}
