/**
 * Incremental SFTP v3 packet reader (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks).
 *
 * Every packet: `uint32 length ‖ byte type ‖ payload(length - 1)`; all but INIT/VERSION start the
 * payload with `uint32 request-id`. Strings are `uint32 length ‖ bytes`; handles are opaque strings.
 *
 * The reader never touches a socket. It yields pieces that, concatenated, are exactly the bytes pushed:
 * whole packets (decoded, with their raw bytes) and, for the two bulk types — WRITE from the client and
 * DATA from the server — a decoded head followed by body pieces that are slices of the input, so file
 * contents are never copied or buffered. Lengths are checked before anything is allocated.
 */
import { ProtocolError } from '../../core/errors.ts';

export const SftpType = {
  INIT: 1, VERSION: 2, OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, LSTAT: 7, FSTAT: 8, SETSTAT: 9, FSETSTAT: 10,
  OPENDIR: 11, READDIR: 12, REMOVE: 13, MKDIR: 14, RMDIR: 15, REALPATH: 16, STAT: 17, RENAME: 18,
  READLINK: 19, SYMLINK: 20, STATUS: 101, HANDLE: 102, DATA: 103, NAME: 104, ATTRS: 105,
  EXTENDED: 200, EXTENDED_REPLY: 201,
} as const;

export const SftpStatus = {
  OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, NO_CONNECTION: 6,
  CONNECTION_LOST: 7, OP_UNSUPPORTED: 8,
} as const;

/** SSH_FXF_* open flags. */
export const OpenFlags = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;

/** Requests (client → server). Handles are kept as latin1 strings so they can key a Map. */
export type SftpRequest =
  | { readonly type: 'init'; readonly version: number }
  | { readonly type: 'open'; readonly id: number; readonly path: string; readonly pflags: number }
  | { readonly type: 'close' | 'fstat' | 'fsetstat' | 'readdir'; readonly id: number; readonly handle: string }
  | { readonly type: 'read'; readonly id: number; readonly handle: string; readonly offset: bigint; readonly length: number }
  | { readonly type: 'write'; readonly id: number; readonly handle: string; readonly offset: bigint; readonly length: number }
  | { readonly type: PathRequestType; readonly id: number; readonly path: string }
  | { readonly type: 'rename' | 'symlink'; readonly id: number; readonly path: string; readonly path2: string }
  | { readonly type: 'extended'; readonly id: number; readonly name: string; readonly path?: string; readonly path2?: string }
  | { readonly type: 'unknown'; readonly code: number; readonly id: number };

/** Responses (server → client). */
export type SftpResponse =
  | { readonly type: 'version'; readonly version: number }
  | { readonly type: 'status'; readonly id: number; readonly code: number; readonly message: string }
  | { readonly type: 'handle'; readonly id: number; readonly handle: string }
  | { readonly type: 'data'; readonly id: number; readonly length: number }
  | { readonly type: 'name'; readonly id: number; readonly count: number }
  | { readonly type: 'attrs' | 'extended-reply'; readonly id: number }
  | { readonly type: 'unknown'; readonly code: number; readonly id: number };

export type SftpPiece<M> =
  /** A whole packet. */
  | { readonly kind: 'packet'; readonly msg: M; readonly raw: Buffer }
  /** The start of a bulk packet (WRITE / DATA) up to its payload; `body` payload bytes follow. */
  | { readonly kind: 'head'; readonly msg: M; readonly raw: Buffer; readonly body: number }
  /** Payload bytes of the current bulk packet; `last` on the piece that completes it. */
  | { readonly kind: 'body'; readonly raw: Buffer; readonly last: boolean };

/** OpenSSH caps SFTP messages at 256 KiB; leave room for other servers. */
export const DEFAULT_MAX_SFTP_PACKET = 4 * 1024 * 1024;
/** The most a bulk head can need: length, type, id, a 256-byte handle, offset, data length. */
const MAX_HANDLE = 256;

/** Bounds-checked reader over one packet's payload. */
class Fields {
  private off: number;
  constructor(private readonly buf: Buffer, start: number, private readonly what: string) {
    this.off = start;
  }
  u32(): number {
    if (this.off + 4 > this.buf.length) throw new ProtocolError(`malformed SFTP ${this.what}`);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  u64(): bigint {
    if (this.off + 8 > this.buf.length) throw new ProtocolError(`malformed SFTP ${this.what}`);
    const v = this.buf.readBigUInt64BE(this.off);
    this.off += 8;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    if (this.off + n > this.buf.length) throw new ProtocolError(`malformed SFTP ${this.what}`);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  str(): string {
    return this.bytes().toString('utf8');
  }
  handle(): string {
    const b = this.bytes();
    if (b.length > MAX_HANDLE) throw new ProtocolError(`malformed SFTP ${this.what}: handle too long`);
    return b.toString('latin1');
  }
  get remaining(): number {
    return this.buf.length - this.off;
  }
}

type PathRequestType = 'lstat' | 'stat' | 'setstat' | 'opendir' | 'remove' | 'mkdir' | 'rmdir' | 'realpath' | 'readlink';
const PATH_REQUESTS: Record<number, PathRequestType> = {
  [SftpType.LSTAT]: 'lstat', [SftpType.STAT]: 'stat', [SftpType.SETSTAT]: 'setstat', [SftpType.OPENDIR]: 'opendir',
  [SftpType.REMOVE]: 'remove', [SftpType.MKDIR]: 'mkdir', [SftpType.RMDIR]: 'rmdir', [SftpType.REALPATH]: 'realpath',
  [SftpType.READLINK]: 'readlink',
};
const HANDLE_REQUESTS: Record<number, 'close' | 'fstat' | 'fsetstat' | 'readdir'> = {
  [SftpType.CLOSE]: 'close', [SftpType.FSTAT]: 'fstat', [SftpType.FSETSTAT]: 'fsetstat', [SftpType.READDIR]: 'readdir',
};
/** OpenSSH extensions whose arguments are paths. */
const EXTENSION_PATHS: Record<string, number> = {
  'posix-rename@openssh.com': 2, 'hardlink@openssh.com': 2, 'statvfs@openssh.com': 1, 'lsetstat@openssh.com': 1,
  'expand-path@openssh.com': 1, 'home-directory': 0,
};

/** Decodes a whole request packet (`p` includes the length prefix). */
export function decodeRequest(p: Buffer): SftpRequest {
  const code = p[4];
  const f = new Fields(p, 5, 'request');
  if (code === SftpType.INIT) return { type: 'init', version: f.u32() };
  const id = f.u32();
  const pathType = PATH_REQUESTS[code];
  if (pathType) return { type: pathType, id, path: f.str() };
  const handleType = HANDLE_REQUESTS[code];
  if (handleType) return { type: handleType, id, handle: f.handle() };
  switch (code) {
    case SftpType.OPEN: {
      const path = f.str();
      return { type: 'open', id, path, pflags: f.u32() };
    }
    case SftpType.READ: {
      const handle = f.handle();
      const offset = f.u64();
      return { type: 'read', id, handle, offset, length: f.u32() };
    }
    case SftpType.WRITE:
      return decodeWriteHead(p).msg;
    case SftpType.RENAME:
    case SftpType.SYMLINK: {
      const path = f.str();
      return { type: code === SftpType.RENAME ? 'rename' : 'symlink', id, path, path2: f.str() };
    }
    case SftpType.EXTENDED: {
      const name = f.str();
      const paths = EXTENSION_PATHS[name] ?? 0;
      const path = paths >= 1 ? f.str() : undefined;
      const path2 = paths >= 2 ? f.str() : undefined;
      return { type: 'extended', id, name, path, path2 };
    }
    default:
      return { type: 'unknown', code, id };
  }
}

/** Decodes a whole response packet. */
export function decodeResponse(p: Buffer): SftpResponse {
  const code = p[4];
  const f = new Fields(p, 5, 'response');
  if (code === SftpType.VERSION) return { type: 'version', version: f.u32() };
  const id = f.u32();
  switch (code) {
    case SftpType.STATUS: {
      const statusCode = f.u32();
      // SFTP v3 servers may omit the message and language tag.
      const message = f.remaining >= 4 ? f.str() : '';
      return { type: 'status', id, code: statusCode, message };
    }
    case SftpType.HANDLE:
      return { type: 'handle', id, handle: f.handle() };
    case SftpType.DATA:
      return { type: 'data', id, length: f.u32() };
    case SftpType.NAME:
      return { type: 'name', id, count: f.u32() };
    case SftpType.ATTRS:
      return { type: 'attrs', id };
    case SftpType.EXTENDED_REPLY:
      return { type: 'extended-reply', id };
    default:
      return { type: 'unknown', code, id };
  }
}

/** Head of a WRITE: `id ‖ string handle ‖ uint64 offset ‖ uint32 data-length`; `undefined` until all there. */
function decodeWriteHead(p: Buffer): { msg: Extract<SftpRequest, { type: 'write' }>; headLength: number } {
  const f = new Fields(p, 5, 'write');
  const id = f.u32();
  const handle = f.handle();
  const offset = f.u64();
  const length = f.u32();
  return { msg: { type: 'write', id, handle, offset, length }, headLength: p.length - f.remaining };
}

/** Bytes of a bulk packet's head, or -1 when more bytes are needed to know. */
function bulkHeadLength(side: 'client' | 'server', buf: Buffer): number {
  if (side === 'server') return 4 + 1 + 4 + 4;
  if (buf.length < 4 + 1 + 4 + 4) return -1;
  const handleLength = buf.readUInt32BE(9);
  if (handleLength > MAX_HANDLE) throw new ProtocolError('malformed SFTP write: handle too long');
  return 4 + 1 + 4 + 4 + handleLength + 8 + 4;
}

/**
 * Splits one direction of an SFTP stream into pieces. `side` is who sends it: 'client' (requests, WRITE
 * is bulk) or 'server' (responses, DATA is bulk).
 */
export class SftpReader<M extends SftpRequest | SftpResponse> {
  private pending: Buffer = Buffer.alloc(0);
  /** Payload bytes still to come for the current bulk packet. */
  private bodyLeft = 0;

  constructor(
    private readonly side: 'client' | 'server',
    private readonly maxPacketBytes = DEFAULT_MAX_SFTP_PACKET,
  ) {}

  static requests(maxPacketBytes?: number): SftpReader<SftpRequest> {
    return new SftpReader<SftpRequest>('client', maxPacketBytes);
  }

  static responses(maxPacketBytes?: number): SftpReader<SftpResponse> {
    return new SftpReader<SftpResponse>('server', maxPacketBytes);
  }

  /**
   * True while a bulk packet's body is streaming: its head has been handed out but not all its payload.
   * (A partial ordinary packet is held back whole, so it does not count.)
   */
  get inBody(): boolean {
    return this.bodyLeft > 0;
  }

  /** True while the start of a packet is held back waiting for the rest of it. */
  get holdsPartial(): boolean {
    return this.pending.length > 0;
  }

  push(chunk: Buffer): SftpPiece<M>[] {
    const out: SftpPiece<M>[] = [];
    let data = chunk;
    while (data.length > 0) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, data.length);
        this.bodyLeft -= n;
        out.push({ kind: 'body', raw: data.subarray(0, n), last: this.bodyLeft === 0 });
        data = data.subarray(n);
        continue;
      }
      data = this.framePacket(data, out);
    }
    return out;
  }

  /** Consumes from `data` what belongs to the next packet header or packet; returns the rest. */
  private framePacket(data: Buffer, out: SftpPiece<M>[]): Buffer {
    const buf = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    if (buf.length >= 4) {
      const declared = buf.readUInt32BE(0);
      if (declared < 1) throw new ProtocolError('malformed SFTP packet: zero length');
      if (declared > this.maxPacketBytes) throw new ProtocolError(`SFTP packet of ${declared} bytes exceeds the limit of ${this.maxPacketBytes}`);
    }
    if (buf.length < 5) {
      this.pending = Buffer.from(buf);
      return Buffer.alloc(0);
    }
    const length = buf.readUInt32BE(0);
    const type = buf[4];
    const total = 4 + length;
    const bulk = (this.side === 'client' && type === SftpType.WRITE) || (this.side === 'server' && type === SftpType.DATA);
    if (bulk) {
      const headLength = bulkHeadLength(this.side, buf);
      if (headLength > total) throw new ProtocolError(`malformed SFTP ${this.side === 'client' ? 'write' : 'data'}: too short`);
      if (headLength < 0 || buf.length < headLength) {
        this.pending = Buffer.from(buf);
        return Buffer.alloc(0);
      }
      const head = Buffer.from(buf.subarray(0, headLength));
      const msg = (this.side === 'client' ? decodeWriteHead(head).msg : decodeResponse(head)) as M;
      const declared = (msg as { length: number }).length;
      if (declared !== total - headLength) throw new ProtocolError(`malformed SFTP ${msg.type}: data length does not match the packet length`);
      out.push({ kind: 'head', msg, raw: head, body: total - headLength });
      this.bodyLeft = total - headLength;
      this.pending = Buffer.alloc(0);
      // What follows the head in `buf` is body (and maybe more packets): hand it back to the loop.
      return buf.subarray(headLength);
    }
    if (buf.length < total) {
      this.pending = Buffer.from(buf);
      return Buffer.alloc(0);
    }
    const raw = buf.subarray(0, total);
    const msg = (this.side === 'client' ? decodeRequest(raw) : decodeResponse(raw)) as M;
    out.push({ kind: 'packet', msg, raw });
    this.pending = Buffer.alloc(0);
    return buf.subarray(total);
  }
}

/** STATUS response bytes: `id ‖ uint32 code ‖ string message ‖ string language`. */
export function encodeStatus(id: number, code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const lang = Buffer.from('en', 'ascii');
  const b = Buffer.alloc(4 + 1 + 4 + 4 + 4 + msg.length + 4 + lang.length);
  let o = b.writeUInt32BE(b.length - 4, 0);
  o = b.writeUInt8(SftpType.STATUS, o);
  o = b.writeUInt32BE(id, o);
  o = b.writeUInt32BE(code, o);
  o = b.writeUInt32BE(msg.length, o);
  o += msg.copy(b, o);
  o = b.writeUInt32BE(lang.length, o);
  lang.copy(b, o);
  return b;
}
