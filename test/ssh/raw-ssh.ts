import { createRequire } from 'node:module';
import type { Client } from 'ssh2';

/**
 * Raw SSH connection-layer messages (RFC 4254) sent over an authenticated `ssh2` client, for what its
 * API will not send: requests out of order, repeated, of unknown types, on channels it does not know.
 * Channels opened here use local ids from 1000 up so that ssh2's own channel table never sees them.
 */
const require = createRequire(import.meta.url);
const { sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket: (proto: unknown, packet: Buffer) => void };

interface PacketWriter {
  allocStart: number;
  alloc(n: number): Buffer;
  finalize(packet: Buffer): Buffer;
}
interface ProtocolInternals {
  _packetRW: { write: PacketWriter };
  _handlers: Record<string, (...args: unknown[]) => void>;
}

export const Msg = {
  GLOBAL_REQUEST: 80, CHANNEL_OPEN: 90, CHANNEL_WINDOW_ADJUST: 93, CHANNEL_DATA: 94, CHANNEL_EOF: 96,
  CHANNEL_CLOSE: 97, CHANNEL_REQUEST: 98,
} as const;

/** SSH wire encoding: byte, boolean, uint32 and string fields. */
export function wire(...fields: (number | boolean | string | Buffer | { u32: number })[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (typeof f === 'number') parts.push(Buffer.from([f]));
    else if (typeof f === 'boolean') parts.push(Buffer.from([f ? 1 : 0]));
    else if (typeof f === 'object' && 'u32' in f) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(f.u32 >>> 0);
      parts.push(b);
    } else {
      const body = typeof f === 'string' ? Buffer.from(f) : f;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      parts.push(len, body);
    }
  }
  return Buffer.concat(parts);
}

export class RawChannels {
  private readonly proto: ProtocolInternals;
  private nextId = 1000;
  /** Our local id → the gateway's id, once confirmed. */
  private readonly remote = new Map<number, number>();
  private readonly waiting = new Map<number, (remote: number | undefined) => void>();
  /** Everything the gateway sent on raw channels, by local id: data and replies. */
  readonly seen = new Map<number, string[]>();
  /** Called with the size of each data packet on a raw channel (its contents are not kept then). */
  onData: ((id: number, bytes: number) => void) | undefined;

  constructor(client: Client) {
    this.proto = (client as unknown as { _protocol: ProtocolInternals })._protocol;
    const h = this.proto._handlers;
    const wrap = (name: string, own: (recipient: number, ...rest: unknown[]) => void) => {
      const original = h[name]!;
      h[name] = (p: unknown, first: unknown, ...rest: unknown[]) => {
        const recipient = typeof first === 'number' ? first : (first as { recipient: number }).recipient;
        if (recipient >= 1000) return own(recipient, first, ...rest);
        original(p, first, ...rest);
      };
    };
    wrap('CHANNEL_OPEN_CONFIRMATION', (id, info) => this.settle(id, (info as { sender: number }).sender));
    wrap('CHANNEL_OPEN_FAILURE', (id) => this.settle(id, undefined));
    for (const name of ['CHANNEL_SUCCESS', 'CHANNEL_FAILURE', 'CHANNEL_EOF', 'CHANNEL_CLOSE', 'CHANNEL_WINDOW_ADJUST']) {
      wrap(name, (id) => this.note(id, name));
    }
    wrap('CHANNEL_DATA', (id, _r, data) => {
      if (this.onData) this.onData(id, (data as Buffer).length);
      else this.note(id, `data:${String(data)}`);
    });
    wrap('CHANNEL_EXTENDED_DATA', (id, _r, data) => this.note(id, `stderr:${String(data)}`));
    wrap('CHANNEL_REQUEST', (id, _r, type) => this.note(id, `request:${String(type)}`));
  }

  private settle(id: number, remote: number | undefined): void {
    if (remote !== undefined) this.remote.set(id, remote);
    this.waiting.get(id)?.(remote);
    this.waiting.delete(id);
  }

  private note(id: number, what: string): void {
    const list = this.seen.get(id) ?? [];
    list.push(what);
    this.seen.set(id, list);
  }

  send(payload: Buffer): void {
    const w = this.proto._packetRW.write;
    const packet = w.alloc(payload.length);
    packet.set(payload, w.allocStart);
    sendPacket(this.proto, w.finalize(packet));
  }

  /** Opens a channel of any type; resolves with our local id and the gateway's id (undefined if refused). */
  async open(type: string, extra: Buffer = Buffer.alloc(0), window = 2 * 1024 * 1024): Promise<{ id: number; remote: number | undefined }> {
    const id = this.nextId++;
    const confirmed = new Promise<number | undefined>((resolve) => {
      this.waiting.set(id, resolve);
      // A connection that ended never answers.
      setTimeout(() => resolve(undefined), 5_000).unref();
    });
    this.send(Buffer.concat([wire(Msg.CHANNEL_OPEN, type, { u32: id }, { u32: window }, { u32: 32 * 1024 }), extra]));
    return { id, remote: await confirmed };
  }

  request(remote: number, type: string, wantReply: boolean, data: Buffer = Buffer.alloc(0)): void {
    this.send(Buffer.concat([wire(Msg.CHANNEL_REQUEST, { u32: remote }, type, wantReply), data]));
  }

  global(name: string, wantReply: boolean, data: Buffer = Buffer.alloc(0)): void {
    this.send(Buffer.concat([wire(Msg.GLOBAL_REQUEST, name, wantReply), data]));
  }

  data(remote: number, bytes: string | Buffer): void {
    this.send(wire(Msg.CHANNEL_DATA, { u32: remote }, bytes));
  }

  windowAdjust(remote: number, bytes: number): void {
    this.send(wire(Msg.CHANNEL_WINDOW_ADJUST, { u32: remote }, { u32: bytes }));
  }

  eof(remote: number): void {
    this.send(wire(Msg.CHANNEL_EOF, { u32: remote }));
  }

  close(remote: number): void {
    this.send(wire(Msg.CHANNEL_CLOSE, { u32: remote }));
  }
}
