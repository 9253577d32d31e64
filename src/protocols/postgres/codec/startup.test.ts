import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ProtocolError } from '../../../core/errors.ts';
import { GSSENC_REQUEST, PROTOCOL_3 } from './codes.ts';
import { encodeCancelRequest, encodeQuery, encodeSslRequest, encodeStartup } from './frontend.ts';
import { StartupReader, decodeStartupParams } from './startup.ts';
import type { StartupPacket } from './startup.ts';
import { int32, onlyProtocolErrors } from './test-util.ts';

function packet(code: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([int32(8 + payload.length), int32(code), payload]);
}

const params = { user: 'alice', database: 'app db', application_name: 'psql ünïcode' };
const stream = Buffer.concat([
  encodeSslRequest(),
  packet(GSSENC_REQUEST),
  encodeCancelRequest(4242, -123456789),
  encodeStartup(params),
  packet(0x00030002, Buffer.from('user\0bob\0_pq_.x\0y\0\0')), // protocol 3.2 with an extension option
]);
const expected: StartupPacket[] = [
  { type: 'ssl' },
  { type: 'gssenc' },
  { type: 'cancel', pid: 4242, secret: -123456789 },
  { type: 'startup', protocol: PROTOCOL_3, params: new Map(Object.entries(params)) },
  { type: 'startup', protocol: 0x00030002, params: new Map([['user', 'bob'], ['_pq_.x', 'y']]) },
];

function drain(r: StartupReader): StartupPacket[] {
  const out: StartupPacket[] = [];
  for (let p = r.next(); p !== undefined; p = r.next()) out.push(p);
  return out;
}

describe('StartupReader', () => {
  it('yields the same packets for a split at every byte boundary', () => {
    for (let i = 0; i <= stream.length; i++) {
      const r = new StartupReader();
      r.push(Buffer.from(stream.subarray(0, i)));
      const got = drain(r);
      r.push(Buffer.from(stream.subarray(i)));
      got.push(...drain(r));
      expect(got).toEqual(expected);
      expect(r.takeRemainder().length).toBe(0);
    }
  });

  it('yields the same packets when fed one byte at a time', () => {
    const r = new StartupReader();
    const got: StartupPacket[] = [];
    for (const byte of stream) {
      r.push(Buffer.from([byte]));
      got.push(...drain(r));
    }
    expect(got).toEqual(expected);
  });

  it('hands back bytes after a packet (e.g. a TLS ClientHello after SSLRequest)', () => {
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]);
    const r = new StartupReader();
    r.push(Buffer.concat([encodeSslRequest(), hello]));
    expect(r.next()).toEqual({ type: 'ssl' });
    expect(r.takeRemainder().equals(hello)).toBe(true);
    expect(r.takeRemainder().length).toBe(0);
  });

  it('hands back pipelined frontend messages after the startup packet', () => {
    const q = encodeQuery('select 1');
    const r = new StartupReader();
    r.push(Buffer.concat([encodeStartup({ user: 'u' }), q.subarray(0, 3)]));
    expect(r.next()?.type).toBe('startup');
    r.push(q.subarray(3));
    expect(r.takeRemainder().equals(q)).toBe(true);
  });

  it('rejects a length above maxBytes as soon as 4 bytes arrive', () => {
    const r = new StartupReader(100);
    r.push(int32(101));
    expect(() => r.next()).toThrow(ProtocolError);
    const ok = new StartupReader(100);
    ok.push(int32(100));
    expect(ok.next()).toBeUndefined();
  });

  it('rejects lengths below 8', () => {
    for (const len of [0, 4, 7, -1]) {
      const r = new StartupReader();
      r.push(int32(len));
      expect(() => r.next()).toThrow(ProtocolError);
    }
  });

  it('rejects unsupported codes, including protocol 2.0', () => {
    for (const code of [0x00020000, 0x00040000, 1234, 80877105]) {
      const r = new StartupReader();
      r.push(packet(code, Buffer.from('user\0x\0\0')));
      expect(() => r.next()).toThrow(`unsupported startup code ${code}`);
    }
  });

  it('rejects fixed-size requests with the wrong length', () => {
    const ssl = Buffer.concat([int32(12), encodeSslRequest().subarray(4), int32(0)]);
    const cancel = Buffer.concat([int32(12), encodeCancelRequest(1, 2).subarray(4, 12)]);
    for (const bad of [ssl, cancel]) {
      const r = new StartupReader();
      r.push(bad);
      expect(() => r.next()).toThrow(ProtocolError);
    }
  });

  it('rejects a startup packet whose parameter list is not terminated', () => {
    const r = new StartupReader();
    r.push(packet(PROTOCOL_3, Buffer.from('user\0alice\0')));
    expect(() => r.next()).toThrow('malformed startup packet');
  });

  it('throws nothing but ProtocolError on random input', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), (chunks) => {
        const r = new StartupReader(64);
        onlyProtocolErrors(() => {
          for (const c of chunks) {
            r.push(Buffer.from(c));
            drain(r);
          }
        });
      }),
    );
  });

  it('throws nothing but ProtocolError on random payloads behind valid headers', () => {
    const codes = fc.constantFrom(PROTOCOL_3, 0x00030002, 80877103, 80877104, 80877102);
    fc.assert(
      fc.property(codes, fc.uint8Array({ maxLength: 60 }), (code, payload) => {
        const r = new StartupReader();
        r.push(packet(code, Buffer.from(payload)));
        onlyProtocolErrors(() => drain(r));
      }),
    );
  });
});

describe('decodeStartupParams', () => {
  it('decodes name/value pairs', () => {
    const m = decodeStartupParams(Buffer.from('user\0u\0options\0-c x=1\0\0'));
    expect([...m]).toEqual([
      ['user', 'u'],
      ['options', '-c x=1'],
    ]);
  });

  it('accepts an empty list', () => {
    expect(decodeStartupParams(Buffer.from([0])).size).toBe(0);
  });

  it('rejects missing terminators, missing values and trailing bytes', () => {
    for (const s of ['', 'user', 'user\0', 'user\0u', 'user\0u\0', 'user\0u\0\0x']) {
      expect(() => decodeStartupParams(Buffer.from(s))).toThrow(ProtocolError);
    }
  });

  it('throws nothing but ProtocolError on random bodies', () => {
    fc.assert(fc.property(fc.uint8Array(), (b) => onlyProtocolErrors(() => decodeStartupParams(Buffer.from(b)))));
  });
});
