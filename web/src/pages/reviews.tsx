import type { Me } from '../types.ts';

export function ReviewsPage(_props: { me: Me }) {
  return <div class="panel"><h1>Review queue</h1></div>;
}
