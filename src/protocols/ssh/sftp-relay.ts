import type { ClientChannel, ServerChannel } from 'ssh2';
import posix from 'node:path/posix';
import { SftpReader, SftpStatus, encodeStatus, type SftpPiece, type SftpRequest, type SftpResponse } from './sftp-parser.ts';
import { WRITE_FLAGS, decisionFor, type SftpDecisionNeed, type SftpEffect } from './sftp-effects.ts';
import { isStartupFile, type PathResolver } from './sftp-paths.ts';
import { HoldableWriter } from './pump.ts';
import type { SshSession } from './session.ts';

export interface SftpRelayOptions {
  readonly session: SshSession;
  readonly channel: number;
  readonly client: ServerChannel;
  readonly target: ClientChannel;
  /** Answers what paths name on the target (see PathResolver). */
  readonly paths: PathResolver;
}

interface OpenHandle {
  readonly path: string;
  readonly op: 'read' | 'write' | 'list';
  read: number;
  written: number;
  entries: number;
}

/** A request waiting for its response, to record the operation with its result. */
interface PendingOp {
  readonly op: string;
  readonly path: string;
  readonly path2?: string;
  readonly handle?: string;
  readonly outcome: 'allowed' | 'reviewed';
}

const MAX_TRACKED = 100_000;

/**
 * Relays the sftp subsystem, parsing both directions as they pass. Requests that change or reveal files
 * are checked with the policy (kind `sftp`, text like `remove /etc/passwd`) before they are forwarded; a
 * denied one is answered by the gateway with SSH_FX_PERMISSION_DENIED and never reaches the target.
 * Each operation is recorded as `sftp.op`, opens and closes with the bytes read and written per handle.
 * File contents stream through as slices of the input (never buffered or copied).
 */
export class SftpRelay {
  private readonly requests = SftpReader.requests();
  private readonly responses = SftpReader.responses();
  private readonly queue: SftpPiece<SftpRequest>[] = [];
  private readonly handles = new Map<string, OpenHandle>();
  private readonly pending = new Map<number, PendingOp>();
  private readonly reads = new Map<number, string>();
  private readonly injected: Buffer[] = [];
  private holding = false;
  private readonly out: HoldableWriter;
  private failed = false;

  constructor(private readonly o: SftpRelayOptions) {
    this.out = new HoldableWriter(o.target, o.client, () => this.holding);
  }

  start(): void {
    const { client, target } = this.o;
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    target.on('data', (chunk: Buffer) => this.fromTarget(chunk));
  }

  // ---- client → target ---------------------------------------------------------------------------

  private fromClient(chunk: Buffer): void {
    if (this.failed) return;
    const rec = this.o.session.rec;
    if (rec) rec.bytesIn += chunk.length;
    const whole = !this.holding && this.queue.length === 0 && !this.requests.holdsPartial;
    let pieces: SftpPiece<SftpRequest>[];
    try {
      pieces = this.requests.push(chunk);
    } catch (err) {
      return this.fail(err as Error);
    }
    // Fast path (bulk WRITEs): the chunk is exactly these pieces and none needs a decision, so it goes
    // on as one write instead of a write per packet head and body.
    if (whole && !this.requests.holdsPartial && pieces.every((p) => p.kind !== 'packet' || this.need(p.msg).kind === 'none')) {
      for (const p of pieces) {
        if (p.kind === 'head') this.onWrite(p.msg);
        else if (p.kind === 'packet') this.track(p.msg, 'allowed');
      }
      return this.out.write(chunk);
    }
    for (const piece of pieces) this.queue.push(piece);
    this.drain();
  }

  private drain(): void {
    while (!this.holding && this.queue.length) {
      const piece = this.queue.shift()!;
      if (piece.kind === 'body') this.out.write(piece.raw);
      else if (piece.kind === 'head') {
        this.onWrite(piece.msg);
        this.out.write(piece.raw);
      } else this.onRequest(piece.msg, piece.raw);
    }
  }

  private onWrite(msg: SftpRequest): void {
    if (msg.type !== 'write') return;
    const h = this.handles.get(msg.handle);
    if (h) h.written += msg.length;
  }

  private need(msg: SftpRequest): SftpDecisionNeed {
    return decisionFor(msg, (handle) => this.handles.get(handle)?.path);
  }

  private onRequest(msg: SftpRequest, raw: Buffer): void {
    const need = this.need(msg);
    if (need.kind === 'none') {
      this.track(msg, 'allowed');
      return this.out.write(raw);
    }
    if (need.kind === 'refuse') return this.deny(msg, need, need.reason);
    // Deciding asks the target what the paths name: this request and everything after it wait.
    this.holding = true;
    this.o.client.pause();
    const decided = this.decide(msg, raw, need.effects).then(() => {
      this.holding = false;
      if (!this.out.blocked) this.o.client.resume();
      this.drain();
    });
    this.o.session.guard(decided, 'sftp decision');
  }

  /** Decides every effect on the normalised and on the resolved paths; forwards the request or answers it. */
  private async decide(msg: SftpRequest, raw: Buffer, effects: readonly SftpEffect[]): Promise<void> {
    const s = this.o.session;
    const first = effects[0]!;
    let checks: { effect: SftpEffect; canonical: SftpEffect[] }[];
    try {
      // A symbolic link's relative target (the first path, as OpenSSH reads SSH_FXP_SYMLINK) is relative to the link's directory.
      const base = msg.type === 'symlink' && !msg.path.startsWith('/') ? { path: msg.path, dir: posix.dirname(await this.o.paths.lexical(msg.path2)) } : undefined;
      checks = await Promise.all(effects.map(async (effect) => ({ effect, canonical: await this.canonical(effect, base) })));
    } catch (err) {
      return this.deny(msg, first, `the gateway cannot tell what the path names (${(err as Error).message}), so it is refused`);
    }
    const texts = [...new Set(checks.flatMap((c) => c.canonical.map(effectText)))];
    let outcome: 'allowed' | 'reviewed' = 'allowed';
    for (const text of texts) {
      const d = s.decide('sftp', text);
      if (d.action === 'deny') return this.deny(msg, first, d.reason);
      if (d.action === 'review') {
        // The sftp client shows the channel's stderr on the user's terminal.
        const r = await s.review('sftp', text, d, (note) => this.o.client.stderr.write(`${note}\n`));
        if (!r.approved) return this.deny(msg, first, r.reason);
        outcome = 'reviewed';
      }
    }
    const resolved = checks[0]!.canonical.at(-1)!;
    const written = checks.flatMap((c) => c.canonical).filter((e) => e.op !== 'read' && e.op !== 'list');
    const startup = [...new Set(written.map((e) => e.path).filter(isStartupFile))];
    for (const path of startup) {
      s.rec?.record('ssh.startup_file', { channel: this.o.channel, op: first.op, path: s.mask(path), via: 'sftp' }, { searchText: `startup ${first.op} ${s.mask(path)}`, outcome });
    }
    this.track(msg, outcome, resolved);
    this.out.write(raw);
  }

  /** The effect on the normalised paths, and on the resolved ones when they differ (last). */
  private async canonical(e: SftpEffect, base: { path: string; dir: string } | undefined): Promise<SftpEffect[]> {
    const paths = this.o.paths;
    const lex2 = e.path2 === undefined ? undefined : await paths.lexical(e.path2);
    const lex = await paths.lexical(e.path, base?.path === e.path ? base.dir : undefined);
    const res = await paths.resolved(lex);
    const res2 = lex2 === undefined ? undefined : await paths.resolved(lex2);
    const a: SftpEffect = { op: e.op, path: lex, ...(lex2 !== undefined ? { path2: lex2 } : {}) };
    const b: SftpEffect = { op: e.op, path: res, ...(res2 !== undefined ? { path2: res2 } : {}) };
    return effectText(a) === effectText(b) ? [a] : [a, b];
  }

  private deny(msg: SftpRequest, check: { op: string; path: string; path2?: string }, reason: string): void {
    this.record(check.op, check.path, check.path2, { status: 'denied', reason }, 'denied');
    const id = 'id' in msg ? msg.id : 0;
    this.inject(encodeStatus(id, SftpStatus.PERMISSION_DENIED, `Airlock: ${reason}`));
  }

  /** Remembers what a forwarded request was, to record it when its response comes. */
  private track(msg: SftpRequest, outcome: 'allowed' | 'reviewed', resolved?: SftpEffect): void {
    if (this.pending.size >= MAX_TRACKED) return;
    switch (msg.type) {
      case 'open':
        this.pending.set(msg.id, { op: msg.pflags & WRITE_FLAGS ? 'write' : 'read', path: resolved?.path ?? msg.path, outcome });
        return;
      case 'opendir':
        this.pending.set(msg.id, { op: 'list', path: resolved?.path ?? msg.path, outcome });
        return;
      case 'read':
        this.reads.set(msg.id, msg.handle);
        return;
      case 'readdir':
        this.reads.set(msg.id, msg.handle);
        return;
      case 'close': {
        const h = this.handles.get(msg.handle);
        if (h) this.pending.set(msg.id, { op: 'close', path: h.path, handle: msg.handle, outcome });
        return;
      }
      case 'remove': case 'mkdir': case 'rmdir': case 'setstat': case 'stat': case 'lstat': case 'readlink':
        this.pending.set(msg.id, { op: msg.type, path: resolved?.path ?? msg.path, outcome });
        return;
      case 'rename': case 'symlink':
        this.pending.set(msg.id, { op: msg.type, path: resolved?.path ?? msg.path, path2: resolved?.path2 ?? msg.path2, outcome });
        return;
      case 'fsetstat': {
        const h = this.handles.get(msg.handle);
        if (h) this.pending.set(msg.id, { op: 'setstat', path: h.path, outcome });
        return;
      }
      case 'extended': {
        if (resolved) this.pending.set(msg.id, { op: resolved.op, path: resolved.path, path2: resolved.path2, outcome });
        return;
      }
      default:
    }
  }



  // ---- target → client ---------------------------------------------------------------------------

  private fromTarget(chunk: Buffer): void {
    if (this.failed) return;
    const whole = !this.responses.holdsPartial;
    let pieces: SftpPiece<SftpResponse>[];
    try {
      pieces = this.responses.push(chunk);
    } catch (err) {
      return this.fail(err as Error);
    }
    // Fast path: nothing is ever rewritten in this direction, so a chunk that is exactly its pieces
    // goes on as one write; the pieces are only looked at.
    if (whole && !this.responses.holdsPartial) {
      for (const piece of pieces) if (piece.kind !== 'body') this.onResponse(piece.msg);
      this.toClient(chunk);
      if (this.injected.length && !this.responses.inBody) this.flushInjected();
      return;
    }
    for (const piece of pieces) {
      if (piece.kind !== 'body') this.onResponse(piece.msg);
      this.toClient(piece.raw);
      if (this.injected.length && !this.responses.inBody) this.flushInjected();
    }
  }

  private onResponse(msg: SftpResponse): void {
    if (!('id' in msg)) return;
    if (msg.type === 'data' || msg.type === 'name') {
      const h = this.handles.get(this.reads.get(msg.id) ?? '');
      if (h && msg.type === 'data') h.read += msg.length;
      if (h && msg.type === 'name') h.entries += msg.count;
      this.reads.delete(msg.id);
      return;
    }
    this.reads.delete(msg.id);
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.type === 'handle') {
      if (this.handles.size < MAX_TRACKED) this.handles.set(msg.handle, { path: p.path, op: p.op as OpenHandle['op'], read: 0, written: 0, entries: 0 });
      return this.record(p.op, p.path, undefined, { status: 'ok' }, p.outcome);
    }
    const status = msg.type === 'status' ? statusText(msg.code, msg.message) : 'ok';
    if (p.op === 'close' && p.handle !== undefined) {
      const h = this.handles.get(p.handle);
      this.handles.delete(p.handle);
      if (!h) return;
      const extra = h.op === 'list' ? { entries: h.entries } : { bytesRead: h.read, bytesWritten: h.written, bytes: h.read + h.written };
      return this.record('close', h.path, undefined, { of: h.op, ...extra, status }, p.outcome);
    }
    if (msg.type === 'status' && msg.code !== SftpStatus.OK) return this.record(p.op, p.path, p.path2, { status }, 'error');
    this.record(p.op, p.path, p.path2, { status }, p.outcome);
  }

  private toClient(bytes: Buffer): void {
    const rec = this.o.session.rec;
    if (rec) rec.bytesOut += bytes.length;
    const full = !this.o.client.write(bytes);
    const wait = full ? new Promise<void>((resolve) => this.o.client.once('drain', resolve)) : this.o.session.clientRoom.room();
    if (!wait || this.o.target.isPaused()) return;
    this.o.target.pause();
    void wait.then(() => this.o.target.resume());
  }

  /** Gateway-made responses go out between the target's packets, never inside one. */
  private inject(packet: Buffer): void {
    this.injected.push(packet);
    if (!this.responses.inBody) this.flushInjected();
  }

  private flushInjected(): void {
    for (const p of this.injected.splice(0)) this.toClient(p);
  }

  // ---- recording and failures --------------------------------------------------------------------

  private record(op: string, path: string, path2: string | undefined, extra: Record<string, unknown>, outcome: string): void {
    const s = this.o.session;
    const p = s.mask(path);
    const p2 = path2 === undefined ? undefined : s.mask(path2);
    const data: Record<string, unknown> = { channel: this.o.channel, op, path: p, ...(p2 !== undefined ? { to: p2 } : {}), ...extra };
    s.rec?.record('sftp.op', data, { searchText: `${op} ${p}${p2 !== undefined ? ` ${p2}` : ''}`, outcome });
  }

  private fail(err: Error): void {
    this.failed = true;
    this.o.session.rec?.record('ssh.protocol_error', { channel: this.o.channel, subsystem: 'sftp', message: err.message }, { outcome: 'error' });
    this.o.client.stderr.write(`Airlock: ${err.message}\r\n`);
    this.o.target.close();
    this.o.client.exit(255);
    this.o.client.end();
  }
}

function effectText(e: SftpEffect): string {
  return e.path2 === undefined ? `${e.op} ${e.path}` : `${e.op} ${e.path} ${e.path2}`;
}

function statusText(code: number, message: string): string {
  if (code === SftpStatus.OK) return 'ok';
  const name = Object.entries(SftpStatus).find(([, v]) => v === code)?.[0]?.toLowerCase() ?? `status ${code}`;
  return message ? `${name}: ${message}` : name;
}
