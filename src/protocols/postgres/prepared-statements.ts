import type { NameChange } from './sql-prepare.ts';

interface Pending {
  /** The Query or Sync batch it was sent in (StatementLog's numbering). */
  readonly batch: number;
  readonly kind: 'parse' | 'close-statement' | 'close-portal';
  readonly name: string;
  readonly text: string;
}

/**
 * The server's named statements as the recording knows them: a name maps to the text the server accepted, never
 * to one it rejected. A Parse changes the map only at its ParseComplete (a Parse the server refuses, such as a
 * duplicate name, 42P05, leaves the old text in place), a Close at its CloseComplete. The server answers in the
 * order it was sent, so each ParseComplete / CloseComplete belongs to the oldest Parse / Close not yet answered;
 * those of a batch that failed are never answered and are dropped at its ReadyForQuery.
 */
export class PreparedStatements {
  private readonly accepted = new Map<string, string>();
  private pending: Pending[] = [];
  private sent = 0;
  private answered = 0;

  parseSent(name: string, text: string): void {
    this.pending.push({ batch: this.sent, kind: 'parse', name, text });
  }

  closeSent(kind: 'S' | 'P', name: string): void {
    this.pending.push({ batch: this.sent, kind: kind === 'S' ? 'close-statement' : 'close-portal', name, text: '' });
  }

  /** A Query or Sync went to the target. */
  batchSent(): void {
    this.sent++;
  }

  /** A ReadyForQuery: what the oldest batch still owed is dropped (an error skipped it). */
  batchEnded(): void {
    const ended = this.answered++;
    while (this.pending.length && this.pending[0].batch <= ended) this.pending.shift();
  }

  parseComplete(): void {
    const p = this.pending[0]?.kind === 'parse' ? this.pending.shift() : undefined;
    if (p) this.accepted.set(p.name, p.text);
  }

  closeComplete(): void {
    const p = this.pending[0]?.kind !== 'parse' ? this.pending.shift() : undefined;
    if (p?.kind === 'close-statement') this.accepted.delete(p.name);
  }

  /** The text the server holds for `name` as far as it has answered, if any. */
  known(name: string): string | undefined {
    return this.accepted.get(name);
  }

  /** A SQL-level PREPARE or DEALLOCATE completed (they share the names of protocol-level statements). */
  sqlChanged(change: NameChange): void {
    if ('name' in change) this.accepted.set(change.name, change.text);
    else if (change.deallocate === null) this.accepted.clear();
    else this.accepted.delete(change.deallocate);
  }

  /**
   * The text a Bind sent now runs for `name`: that of a Parse earlier in the same batch (if it fails, the server
   * skips the Bind too), else the accepted one. Undefined while it depends on a Parse or Close of an earlier batch
   * the server has not answered yet, or names nothing known while batches are unanswered (a SQL PREPARE among
   * them may define it): the caller waits for the answers.
   */
  textFor(name: string): string | undefined {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i];
      if (p.name !== name || p.kind === 'close-portal') continue;
      if (p.batch !== this.sent) return undefined;
      return p.kind === 'parse' ? p.text : '';
    }
    const text = this.accepted.get(name);
    // Not known yet, while batches are unanswered: a SQL PREPARE among them may define it.
    if (text === undefined && this.answered < this.sent) return undefined;
    return text ?? '';
  }
}
