import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { dateTime } from '../format.ts';
import type { TokenInfo } from '../types.ts';

/** Gateway tokens (admins). A new token's secret is shown once, right after it is issued. */
export function TokensPage() {
  const [list, setList] = useState<TokenInfo[] | undefined>();
  const [error, setError] = useState('');
  const [issued, setIssued] = useState('');
  const [form, setForm] = useState({ subject: '', groups: '', ttl: '8h', description: '', service: false });

  const load = () => api<{ tokens: TokenInfo[] }>('/api/tokens').then((r) => setList(r.tokens.sort((a, b) => b.createdAt - a.createdAt)), (err: Error) => setError(err.message));
  useEffect(() => void load(), []);

  const issue = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const groups = form.groups.split(',').map((g) => g.trim()).filter(Boolean);
      const r = await api<{ token: string }>('/api/tokens', { method: 'POST', body: { subject: form.subject.trim(), groups, ttl: form.ttl, service: form.service, description: form.description || undefined } });
      setIssued(r.token);
      setForm({ ...form, subject: '', groups: '', description: '' });
      await load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const revoke = async (id: string) => {
    try {
      await api(`/api/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' });
      await load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const field = (k: 'subject' | 'groups' | 'ttl' | 'description') => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });

  const now = Date.now();
  return (
    <div>
      <form class="toolbar panel" id="issue-token" onSubmit={issue}>
        <input id="token-subject" placeholder="subject" required value={form.subject} onInput={field('subject')} />
        <input id="token-groups" placeholder="groups (comma separated)" value={form.groups} onInput={field('groups')} />
        <input id="token-ttl" placeholder="ttl (8h)" size={6} value={form.ttl} onInput={field('ttl')} />
        <input class="grow" placeholder="description" value={form.description} onInput={field('description')} />
        <label class="check"><input type="checkbox" checked={form.service} onChange={(e) => setForm({ ...form, service: (e.target as HTMLInputElement).checked })} /> service</label>
        <button type="submit" class="button primary">Issue token</button>
      </form>
      {issued && <p class="token-once" id="issued-token"><code>{issued}</code><br /><span class="muted small">Copy it now: it is not shown again.</span></p>}
      {error && <p class="error">{error}</p>}
      {!list ? <p class="muted">Loading…</p> : (
        <table class="grid" id="tokens">
          <thead><tr><th>Id</th><th>Subject</th><th>Groups</th><th>Kind</th><th>Created</th><th>Expires</th><th>Description</th><th></th></tr></thead>
          <tbody>
            {list.map((t) => {
              const state = t.revokedAt ? 'revoked' : t.expiresAt < now ? 'expired' : '';
              return (
                <tr key={t.id} class={state ? 'muted' : undefined}>
                  <td class="code">{t.id}</td>
                  <td>{t.subject}</td>
                  <td>{t.groups.join(', ')}</td>
                  <td>{t.kind}</td>
                  <td class="nowrap">{dateTime(t.createdAt)}</td>
                  <td class="nowrap">{state || dateTime(t.expiresAt)}</td>
                  <td>{t.description}</td>
                  <td>{!state && <button type="button" class="button small deny" onClick={() => revoke(t.id)}>Revoke</button>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
