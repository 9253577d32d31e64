import type { Me } from '../types.ts';

export function SessionPage({ id }: { me: Me; id: string; params: URLSearchParams }) {
  return <div class="panel"><h1>Session {id}</h1></div>;
}
