/**
 * An SSH connection's allow-list (`policy.allow`, command globs): a line is allowed when every command it runs
 * — in pipelines, substitutions and wrappers (`sudo`, `xargs`, `find -exec`, `sh -c`) alike — is allowed by
 * an entry, it sets no variable, redirects to or from no file, has no `..` path segment, and nothing about it
 * is unknown. Everything else gets the policy's `otherwise`.
 */
import { quote, type Subject } from '../rule.ts';
import type { Decision } from '../types.ts';
import { compileAllowPattern, type CommandAllower } from './match.ts';

const PARENT = /(?:^|\/)\.\.(?:\/|$)/;

export function compileCommandAllowList(patterns: readonly string[], refuse: (what: string) => Decision): { check(subject: Subject): Decision | undefined } {
  const allowers: CommandAllower[] = patterns.map((c) => {
    try {
      return compileAllowPattern(c);
    } catch (err) {
      throw new Error(`policy.allow: bad command pattern "${c}": ${(err as Error).message}`);
    }
  });
  return {
    check(subject) {
      if (subject.type !== 'shell') return undefined; // sftp and forwards have their own rules
      const line = subject.line;
      if (subject.unknown) return refuse(`${subject.unknown} in ${quote(subject.raw)}: it cannot be checked against the allow list`);
      if (line.incomplete) return refuse(`${line.incomplete} in ${quote(subject.raw)}: it cannot be checked against the allow list`);
      const effect = line.effects[0];
      if (effect) return refuse(`${quote(subject.raw)} ${effect}, which the allow list does not cover`);
      for (const c of line.run) {
        if (c.words.some((w) => PARENT.test(w.text))) return refuse(`${quote(c.text)} has a ".." path segment, which the allow list does not cover`);
        if (!allowers.some((a) => a.allows(c))) return refuse(`command ${quote(c.text)} is not on the connection's allow list`);
      }
      return undefined;
    },
  };
}
