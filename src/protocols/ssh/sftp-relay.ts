import type { ClientChannel, ServerChannel } from 'ssh2';
import {
  OpenFlags, SftpReader, SftpStatus, encodeStatus, type SftpPiece, type SftpRequest, type SftpResponse,
} from './sftp-parser.ts';
import { HoldableWriter } from './pump.ts';
import type { SshSession } from './session.ts';

export interface SftpRelayOptions {
  readonly session: SshSession;
  readonly channel: number;
  readonly client: ServerChannel;
  readonly target: ClientChannel;
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
const WRITE_FLAGS = OpenFlags.WRITE | OpenFlags.APPEND | OpenFlags.CREAT | OpenFlags.TRUNC;

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
    if (whole && !this.requests.holdsPartial && pieces.every((p) => p.kind !== 'packet' || !policyText(p.msg))) {
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

  private onRequest(msg: SftpRequest, raw: Buffer): void {
    const check = policyText(msg);
    if (!check) {
      this.track(msg, 'allowed');
      return this.out.write(raw);
    }
    const s = this.o.session;
    const d = s.decide('sftp', check.text);
    if (d.action === 'allow') {
      this.track(msg, 'allowed');
      return this.out.write(raw);
    }
    if (d.action === 'deny') return this.deny(msg, check, d.reason);
    this.holding = true;
    this.o.client.pause();
    const decided = s.review('sftp', check.text, d).then((r) => {
      if (r.approved) {
        this.track(msg, 'reviewed');
        this.out.write(raw);
      } else this.deny(msg, check, r.reason);
      this.holding = false;
      if (!this.out.blocked) this.o.client.resume();
      this.drain();
    });
    s.guard(decided, 'sftp review');
  }

  private deny(msg: SftpRequest, check: { op: string; path: string; path2?: string }, reason: string): void {
    this.record(check.op, check.path, check.path2, { status: 'denied', reason }, 'denied');
    const id = 'id' in msg ? msg.id : 0;
    this.inject(encodeStatus(id, SftpStatus.PERMISSION_DENIED, `Airlock: ${reason}`));
  }

  /** Remembers what a forwarded request was, to record it when its response comes. */
  private track(msg: SftpRequest, outcome: 'allowed' | 'reviewed'): void {
    if (this.pending.size >= MAX_TRACKED) return;
    switch (msg.type) {
      case 'open':
        this.pending.set(msg.id, { op: msg.pflags & WRITE_FLAGS ? 'write' : 'read', path: msg.path, outcome });
        return;
      case 'opendir':
        this.pending.set(msg.id, { op: 'list', path: msg.path, outcome });
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
        this.pending.set(msg.id, { op: msg.type, path: msg.path, outcome });
        return;
      case 'rename': case 'symlink':
        this.pending.set(msg.id, { op: msg.type, path: msg.path, path2: msg.path2, outcome });
        return;
      case 'extended': {
        const check = policyText(msg);
        if (check) this.pending.set(msg.id, { op: check.op, path: check.path, path2: check.path2, outcome });
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

/** What the policy sees for a request that changes or reveals files; undefined for the rest. */
export function policyText(msg: SftpRequest): { op: string; path: string; path2?: string; text: string } | undefined {
  const one = (op: string, path: string) => ({ op, path, text: `${op} ${path}` });
  const two = (op: string, path: string, path2: string) => ({ op, path, path2, text: `${op} ${path} ${path2}` });
  switch (msg.type) {
    case 'open':
      return one(msg.pflags & WRITE_FLAGS ? 'write' : 'read', msg.path);
    case 'opendir':
      return one('list', msg.path);
    case 'remove': case 'mkdir': case 'rmdir': case 'setstat':
      return one(msg.type, msg.path);
    case 'rename': case 'symlink':
      return two(msg.type, msg.path, msg.path2);
    case 'extended':
      if (msg.name === 'posix-rename@openssh.com' && msg.path2 !== undefined) return two('rename', msg.path!, msg.path2);
      if (msg.name === 'hardlink@openssh.com' && msg.path2 !== undefined) return two('link', msg.path!, msg.path2);
      if (msg.name === 'lsetstat@openssh.com' && msg.path !== undefined) return one('setstat', msg.path);
      return undefined;
    default:
      return undefined;
  }
}

function statusText(code: number, message: string): string {
  if (code === SftpStatus.OK) return 'ok';
  const name = Object.entries(SftpStatus).find(([, v]) => v === code)?.[0]?.toLowerCase() ?? `status ${code}`;
  return message ? `${name}: ${message}` : name;
}
