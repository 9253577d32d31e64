import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import type { Me, Providers } from '../types.ts';

export function LoginPage({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [providers, setProviders] = useState<Providers | undefined>();
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<Providers>('/api/auth/providers').then(setProviders, () => setProviders({ token: true, oidc: null, saml: null }));
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const { me } = await api<{ me: Me }>('/api/web-session', { method: 'POST', body: { token: token.trim() } });
      setToken('');
      onSignedIn(me);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid (unknown, expired or revoked).' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="center-card login">
      <h1>Airlock</h1>
      <p class="muted">Sign in to review sessions, recordings and pending requests.</p>
      {!providers && <p class="muted">Loading sign-in options…</p>}
      {providers?.oidc && <a class="button primary wide" id="login-oidc" href={providers.oidc.loginUrl}>Sign in with OpenID Connect</a>}
      {providers?.saml && <a class="button primary wide" id="login-saml" href={providers.saml.loginUrl}>Sign in with SAML</a>}
      {providers?.token && (
        <form id="token-form" onSubmit={submit}>
          {(providers.oidc || providers.saml) && <div class="or">or</div>}
          <label for="token">Airlock token</label>
          <input id="token" type="password" autocomplete="off" spellcheck={false} placeholder="alk_…" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
          <p class="hint">A token from <code>airlock tokens issue</code> or <code>airlock login</code>. It is exchanged for a browser session; the token itself is not stored.</p>
          <button type="submit" class="button wide" disabled={busy || !token.trim()}>Sign in with token</button>
        </form>
      )}
      {error && <p class="error" id="login-error">{error}</p>}
    </div>
  );
}
