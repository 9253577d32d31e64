import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../core/errors.ts';
import { SftpReader, SftpStatus, SftpType, encodeStatus, type SftpPiece } from './sftp-parser.ts';

// ---- byte builders (SFTP v3 layout: uint32 length ‖ byte type ‖ payload) ----

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u32(b.length), b]);
};
const packet = (type: number, ...parts: Buffer[]) => {
  const body = Buffer.concat([Buffer.from([type]), ...parts]);
  return Buffer.concat([u32(body.length), body]);
};
const HANDLE = Buffer.from([0, 0, 0, 7]);

const requests = [
  packet(SftpType.INIT, u32(3)),
  packet(SftpType.OPEN, u32(1), str('/tmp/ü.txt'), u32(0x1a), u32(0)),
  packet(SftpType.WRITE, u32(2), str(HANDLE), u64(0n), str(Buffer.alloc(1000, 0x61))),
  packet(SftpType.WRITE, u32(3), str(HANDLE), u64(1000n), str(Buffer.alloc(0))),
  packet(SftpType.READ, u32(4), str(HANDLE), u64(5n), u32(32768)),
  packet(SftpType.CLOSE, u32(5), str(HANDLE)),
  packet(SftpType.REMOVE, u32(6), str('/etc/passwd')),
  packet(SftpType.RENAME, u32(7), str('a'), str('b')),
  packet(SftpType.MKDIR, u32(8), str('d'), u32(0)),
  packet(SftpType.RMDIR, u32(9), str('d')),
  packet(SftpType.OPENDIR, u32(10), str('/')),
  packet(SftpType.READDIR, u32(11), str(HANDLE)),
  packet(SftpType.STAT, u32(12), str('x')),
  packet(SftpType.EXTENDED, u32(13), str('posix-rename@openssh.com'), str('old'), str('new')),
  packet(SftpType.EXTENDED, u32(14), str('limits@openssh.com')),
  packet(99, u32(15)),
];

const responses = [
  packet(SftpType.VERSION, u32(3), str('posix-rename@openssh.com'), str('1')),
  packet(SftpType.HANDLE, u32(1), str(HANDLE)),
  packet(SftpType.DATA, u32(4), str(Buffer.alloc(700, 0x62))),
  packet(SftpType.STATUS, u32(5), u32(SftpStatus.OK), str('Success'), str('')),
  packet(SftpType.STATUS, u32(6), u32(SftpStatus.PERMISSION_DENIED)), // v3 servers may omit the message
  packet(SftpType.NAME, u32(11), u32(2)),
  packet(SftpType.ATTRS, u32(12), u32(0)),
];

/** Feeds `chunks`, returning the decoded messages (heads included) and all raw bytes in order. */
function feed(reader: { push(chunk: Buffer): SftpPiece<unknown>[] }, chunks: Buffer[]) {
  const pieces: SftpPiece<unknown>[] = [];
  for (const c of chunks) pieces.push(...reader.push(c));
  return {
    messages: pieces.filter((p) => p.kind !== 'body').map((p) => (p as { msg: unknown }).msg),
    raw: Buffer.concat(pieces.map((p) => p.raw)),
    bodies: pieces.filter((p) => p.kind === 'body').reduce((n, p) => n + p.raw.length, 0),
  };
}

describe('SftpReader', () => {
  const reqStream = Buffer.concat(requests);
  const resStream = Buffer.concat(responses);
  const wholeReq = feed(SftpReader.requests(), [reqStream]);
  const wholeRes = feed(SftpReader.responses(), [resStream]);

  it('decodes requests, streaming WRITE bodies', () => {
    expect(wholeReq.raw.equals(reqStream)).toBe(true);
    expect(wholeReq.bodies).toBe(1000);
    expect(wholeReq.messages).toEqual([
      { type: 'init', version: 3 },
      { type: 'open', id: 1, path: '/tmp/ü.txt', pflags: 0x1a },
      { type: 'write', id: 2, handle: HANDLE.toString('latin1'), offset: 0n, length: 1000 },
      { type: 'write', id: 3, handle: HANDLE.toString('latin1'), offset: 1000n, length: 0 },
      { type: 'read', id: 4, handle: HANDLE.toString('latin1'), offset: 5n, length: 32768 },
      { type: 'close', id: 5, handle: HANDLE.toString('latin1') },
      { type: 'remove', id: 6, path: '/etc/passwd' },
      { type: 'rename', id: 7, path: 'a', path2: 'b' },
      { type: 'mkdir', id: 8, path: 'd' },
      { type: 'rmdir', id: 9, path: 'd' },
      { type: 'opendir', id: 10, path: '/' },
      { type: 'readdir', id: 11, handle: HANDLE.toString('latin1') },
      { type: 'stat', id: 12, path: 'x' },
      { type: 'extended', id: 13, name: 'posix-rename@openssh.com', path: 'old', path2: 'new' },
      { type: 'extended', id: 14, name: 'limits@openssh.com', path: undefined, path2: undefined },
      { type: 'unknown', code: 99, id: 15 },
    ]);
  });

  it('decodes responses, streaming DATA bodies', () => {
    expect(wholeRes.raw.equals(resStream)).toBe(true);
    expect(wholeRes.bodies).toBe(700);
    expect(wholeRes.messages).toEqual([
      { type: 'version', version: 3 },
      { type: 'handle', id: 1, handle: HANDLE.toString('latin1') },
      { type: 'data', id: 4, length: 700 },
      { type: 'status', id: 5, code: 0, message: 'Success' },
      { type: 'status', id: 6, code: 3, message: '' },
      { type: 'name', id: 11, count: 2 },
      { type: 'attrs', id: 12 },
    ]);
  });

  it('gives the same result however the stream is split in two', () => {
    for (const [stream, whole, make] of [
      [reqStream, wholeReq, () => SftpReader.requests()],
      [resStream, wholeRes, () => SftpReader.responses()],
    ] as const) {
      for (let i = 0; i <= stream.length; i++) {
        const r = feed(make(), [stream.subarray(0, i), stream.subarray(i)]);
        expect(r.messages).toEqual(whole.messages);
        expect(r.raw.equals(stream)).toBe(true);
      }
    }
  });

  it('gives the same result fed one byte at a time, and tracks when a body is streaming', () => {
    const reader = SftpReader.responses();
    const chunks = [...resStream].map((b) => Buffer.from([b]));
    const pieces: SftpPiece<unknown>[] = [];
    let sawInBody = false;
    for (const c of chunks) {
      pieces.push(...reader.push(c));
      sawInBody ||= reader.inBody;
    }
    expect(sawInBody).toBe(true);
    expect(reader.inBody).toBe(false);
    expect(pieces.filter((p) => p.kind !== 'body').map((p) => (p as { msg: unknown }).msg)).toEqual(wholeRes.messages);
    expect(Buffer.concat(pieces.map((p) => p.raw)).equals(resStream)).toBe(true);
  });

  it('refuses oversized and malformed packets with ProtocolError, before buffering them', () => {
    expect(() => SftpReader.requests(1024).push(u32(1025))).toThrow(/exceeds/);
    expect(() => SftpReader.requests(1024).push(Buffer.concat([u32(2000), Buffer.from([SftpType.OPEN])]))).toThrow(ProtocolError);
    expect(() => SftpReader.requests().push(Buffer.concat([u32(0), Buffer.from([1])]))).toThrow(ProtocolError);
    // A REMOVE whose path length runs past the packet.
    expect(() => SftpReader.requests().push(packet(SftpType.REMOVE, u32(1), u32(50), Buffer.from('short')))).toThrow(/malformed SFTP request/);
    // A WRITE whose data length disagrees with the packet length.
    const bad = packet(SftpType.WRITE, u32(2), str(HANDLE), u64(0n), u32(10), Buffer.alloc(4));
    expect(() => SftpReader.requests().push(bad)).toThrow(/data length/);
    // A handle longer than the spec allows.
    expect(() => SftpReader.requests().push(packet(SftpType.CLOSE, u32(1), str(Buffer.alloc(300))))).toThrow(/handle too long/);
  });

  it('never throws anything but ProtocolError on random input', () => {
    let seed = 1;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 2000; n++) {
      const len = Math.floor(rnd() * 64);
      const bytes = Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256)));
      if (len >= 4 && rnd() < 0.7) bytes.writeUInt32BE(Math.max(1, len - 4 - Math.floor(rnd() * 3)), 0);
      for (const reader of [SftpReader.requests(4096), SftpReader.responses(4096)]) {
        try {
          reader.push(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }
    }
  });
});

describe('encodeStatus', () => {
  it('round-trips through the response decoder', () => {
    const reader = SftpReader.responses();
    const [piece] = reader.push(encodeStatus(42, SftpStatus.PERMISSION_DENIED, 'Airlock: no'));
    expect(piece).toMatchObject({ kind: 'packet', msg: { type: 'status', id: 42, code: 3, message: 'Airlock: no' } });
  });
});
