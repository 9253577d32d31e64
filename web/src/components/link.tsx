import type { ComponentChildren } from 'preact';
import { onLink } from '../router.ts';

export function Link(props: { href: string; class?: string; title?: string; children: ComponentChildren }) {
  return (
    <a href={props.href} class={props.class} title={props.title} onClick={onLink}>
      {props.children}
    </a>
  );
}
