import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../core/errors.ts';
import { BackendCode, CANCEL_REQUEST, FrontendCode, GSSENC_REQUEST, PROTOCOL_3, SSL_REQUEST } from './codes.ts';
import { BufferReader } from './reader.ts';

describe('BufferReader', () => {
  it('reads big-endian integers, C strings and byte ranges', () => {
    const buf = Buffer.from([0xff, 0xff, 0xfe, 0x80, 0, 0, 1, 0x68, 0x69, 0, 1, 2, 3]);
    const r = new BufferReader(buf, 'Test');
    expect(r.int8()).toBe(-1);
    expect(r.uint8()).toBe(0xff);
    expect(r.int16()).toBe(-384);
    expect(r.offset).toBe(4);
    const r2 = new BufferReader(buf, 'Test', 3);
    expect(r2.int32()).toBe(-2147483647);
    expect(r2.cstring()).toBe('hi');
    const bytes = r2.bytes(2);
    expect([...bytes]).toEqual([1, 2]);
    expect(bytes.buffer).toBe(buf.buffer);
    expect(r2.remaining).toBe(1);
    expect(() => r2.end()).toThrow('malformed Test');
    expect([...r2.rest()]).toEqual([3]);
    r2.end();
    expect(new BufferReader(buf, 'T').uint32()).toBe(0xfffffe80);
    expect(new BufferReader(buf, 'T').uint16()).toBe(0xffff);
  });

  it('throws ProtocolError naming the message on every over-read', () => {
    const empty = new BufferReader(Buffer.alloc(0), 'DataRow');
    for (const read of [() => empty.uint8(), () => empty.int8(), () => empty.int16(), () => empty.uint16(), () => empty.int32(), () => empty.uint32(), () => empty.cstring(), () => empty.bytes(1)]) {
      expect(read).toThrow(ProtocolError);
      expect(read).toThrow('malformed DataRow');
    }
    const three = new BufferReader(Buffer.from([1, 2, 3]), 'X');
    expect(() => three.int32()).toThrow(ProtocolError);
    expect(() => three.bytes(-1)).toThrow(ProtocolError);
    expect(() => three.cstring()).toThrow(ProtocolError);
    expect(three.offset).toBe(0);
  });
});

describe('codes', () => {
  it('maps message names to their ASCII type bytes', () => {
    expect(String.fromCharCode(FrontendCode.Query, FrontendCode.Parse, FrontendCode.Bind, FrontendCode.Flush, FrontendCode.Password)).toBe('QPBHp');
    expect(String.fromCharCode(BackendCode.ParseComplete, BackendCode.NoData, BackendCode.CopyBothResponse, BackendCode.NegotiateProtocolVersion)).toBe('1nWv');
    expect([PROTOCOL_3, SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST]).toEqual([(3 << 16) | 0, (1234 << 16) | 5679, (1234 << 16) | 5680, (1234 << 16) | 5678]);
  });
});
