/**
 * A search hit's snippet. The store marks matched terms with [ and ]; since statements contain brackets
 * too, only bracketed runs that contain one of the searched words are shown highlighted.
 */
export function Snippet({ text, search }: { text: string; search: string }) {
  const words = search.toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter(Boolean);
  const parts: (string | { mark: string })[] = [];
  let last = 0;
  for (const m of text.matchAll(/\[([^[\]]+)\]/g)) {
    const inner = m[1].toLowerCase();
    if (!words.some((w) => inner.includes(w))) continue;
    parts.push(text.slice(last, m.index), { mark: m[1] });
    last = m.index! + m[0].length;
  }
  parts.push(text.slice(last));
  return <>{parts.map((p) => (typeof p === 'string' ? p : <mark>{p.mark}</mark>))}</>;
}
