import { useEffect, useState } from 'preact/hooks';

/** History routing: the gateway answers index.html for every console path, so a reload lands on the same screen. */
const changed = new EventTarget();

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  changed.dispatchEvent(new Event('change'));
}

window.addEventListener('popstate', () => changed.dispatchEvent(new Event('change')));

export interface Route {
  readonly path: string;
  readonly params: URLSearchParams;
}

export function useRoute(): Route {
  const read = () => ({ path: location.pathname, params: new URLSearchParams(location.search) });
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => {
    const on = () => setRoute(read());
    changed.addEventListener('change', on);
    return () => changed.removeEventListener('change', on);
  }, []);
  return route;
}

/** Same-tab navigation for plain left clicks; modified clicks keep the browser's behaviour (new tab …). */
export function onLink(e: MouseEvent): void {
  const a = (e.currentTarget as HTMLAnchorElement | null) ?? undefined;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href') ?? '/');
}
