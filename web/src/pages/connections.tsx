import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Link } from '../components/link.tsx';
import { dateTime } from '../format.ts';
import type { Connection } from '../types.ts';

export function ConnectionsPage() {
  const [list, setList] = useState<Connection[] | undefined>();
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ connections: Connection[] }>('/api/connections').then((r) => setList(r.connections), (err: Error) => setError(err.message));
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!list) return <p class="muted">Loading…</p>;
  if (!list.length) return <p class="empty">No connections you may use.</p>;
  return (
    <table class="grid" id="connections">
      <thead><tr><th>Name</th><th>Type</th><th>Status</th><th>Checked</th><th class="num">Open sessions</th><th>Access</th></tr></thead>
      <tbody>
        {list.map((c) => (
          <tr key={c.name}>
            <td><Link href={`/sessions?connection=${encodeURIComponent(c.name)}`}>{c.name}</Link></td>
            <td>{c.type}</td>
            <td><span class={`badge ${c.status === 'up' ? 'ok' : c.status === 'down' ? 'bad' : ''}`}>{c.status}</span></td>
            <td class="muted nowrap">{c.checkedAt ? dateTime(c.checkedAt) : ''}</td>
            <td class="num">{c.openSessions}</td>
            <td>{c.allowed ? 'allowed' : <span class="muted">not for you</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
