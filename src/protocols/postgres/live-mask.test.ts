import { describe, expect, it } from 'vitest';
import { compileMasker } from '../../policy/mask/index.ts';
import type { ValueMasker } from '../../policy/connection-policies.ts';
import { BackendCode } from './codec/codes.ts';
import {
  encodeCommandComplete, encodeCopyDataOut, encodeDataRow, encodeErrorFields, encodeNotification, encodeParameterStatus,
  encodeReadyForQuery, encodeRowDescription, type FieldDescription,
} from './codec/backend.ts';
import { allocMessage } from './codec/writer.ts';
import type { Frame } from './codec/frame-reader.ts';
import { BACKEND_DATA, LiveMask, LiveMaskRefusal } from './live-mask.ts';
import { maskCopyRow } from './copy-mask.ts';

const m = compileMasker({ kinds: ['all'] });
const masker: ValueMasker = { maskText: (t, c) => m.maskText(t, c), maskValue: (col, v, c) => m.maskValue(col, v, c), active: true };
const PII = ['ann@example.org', '4111111111111111', '123-45-6789'];
const TEXT = `who: ${PII.join(' / ')}`;

function frame(bytes: Buffer): Frame {
  return { code: bytes[0], bytes, body: bytes.subarray(5) };
}

function column(name: string): FieldDescription {
  return { name, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 };
}

/** Feeds messages through a fresh LiveMask; returns everything it would send the client. */
function through(...messages: Buffer[]): Buffer {
  const live = new LiveMask(masker, {});
  return Buffer.concat(messages.map((b) => live.frame(frame(b), b) ?? Buffer.alloc(0)));
}

function copyOut(columns: number): Buffer {
  const b = allocMessage(BackendCode.CopyOutResponse, 3 + 2 * columns);
  b.writeInt8(0, 5);
  b.writeUInt16BE(columns, 6);
  for (let i = 0; i < columns; i++) b.writeInt16BE(0, 8 + 2 * i);
  return b;
}

/**
 * One case per backend message type that carries data: each puts the PII where that type carries text.
 * A type marked 'masked' without a case here fails the test, so a new one cannot be left untested.
 */
const CASES: Record<string, () => Buffer[]> = {
  DataRow: () => [encodeRowDescription([column('note'), column('x')]), encodeDataRow([TEXT, `{${PII[1]},5555555555554444}`])],
  RowDescription: () => [encodeRowDescription([column(TEXT)])],
  CopyData: () => [copyOut(3), encodeCopyDataOut(`1X${PII[0]}X${PII[1]}\n`), encodeCopyDataOut(`2\t${PII[2]}\t"${PII[0]}"\n`)],
  ErrorResponse: () => [encodeErrorFields(BackendCode.ErrorResponse, { S: 'ERROR', C: '23505', M: TEXT, D: `Key (email)=(${PII[0]})`, H: TEXT, W: TEXT, q: TEXT, t: TEXT })],
  NoticeResponse: () => [encodeErrorFields(BackendCode.NoticeResponse, { S: 'NOTICE', C: '00000', M: TEXT, D: TEXT, W: `PL/pgSQL function f(text) line 1 ${TEXT}` })],
  NotificationResponse: () => [encodeNotification(7, PII[0], TEXT)],
  ParameterStatus: () => [encodeParameterStatus('application_name', TEXT)],
};

describe('every backend message type that carries data reaches a live-masked client masked', () => {
  it('classifies every backend message type', () => {
    expect(Object.keys(BACKEND_DATA).sort()).toEqual(Object.keys(BackendCode).sort());
  });

  const masked = Object.entries(BACKEND_DATA).filter(([, v]) => v === 'masked').map(([k]) => k);
  it.each(masked)('%s', (type) => {
    const build = CASES[type];
    expect(build, `no masking case for ${type}`).toBeDefined();
    const messages = build();
    const raw = Buffer.concat(messages);
    for (const p of PII) expect(raw.includes(Buffer.from(p))).toBe(true);
    const out = through(...messages);
    for (const p of PII) expect(out.includes(Buffer.from(p)), p).toBe(false);
    expect(out.toString('latin1')).toMatch(/\[(EMAIL|CREDIT_CARD|SSN)\]/);
  });

  it.each(Object.entries(BACKEND_DATA).filter(([, v]) => v === 'refused').map(([k]) => k))('%s ends the session', (type) => {
    const b = allocMessage(BackendCode[type as keyof typeof BackendCode], 0);
    expect(() => through(b)).toThrow(LiveMaskRefusal);
  });

  it('a message type the gateway does not know ends the session', () => {
    expect(() => through(allocMessage(0x7a, 4))).toThrow(LiveMaskRefusal);
  });

  it('a row without a description, or with another column count, ends the session', () => {
    expect(() => through(encodeDataRow(['x']))).toThrow(LiveMaskRefusal);
    expect(() => through(encodeRowDescription([column('a')]), encodeCommandComplete('SELECT 0'), encodeDataRow(['x']))).toThrow(LiveMaskRefusal);
    expect(() => through(encodeRowDescription([column('a')]), encodeDataRow(['x', 'y']))).toThrow(LiveMaskRefusal);
    expect(() => through(encodeRowDescription([column('a')]), encodeReadyForQuery('I'), encodeDataRow(['x']))).toThrow(LiveMaskRefusal);
  });

  it('a binary RowDescription ends the session', () => {
    expect(() => through(encodeRowDescription([{ ...column('a'), format: 1 }]))).toThrow(LiveMaskRefusal);
  });
});

describe('maskCopyRow', () => {
  const row = (r: string, n: number): string | undefined => maskCopyRow(r, n, masker, {});
  it.each([
    ['1\tann@example.org\t4111111111111111\n', 3],
    ['1,ann@example.org,"4111 1111 1111 1111"\n', 3],
    ['1Xann@example.orgX4111111111111111\n', 3], // DELIMITER 'X'
    ['1@ann\\@example.org@4111111111111111\n', 3], // DELIMITER '@': the value's own '@' is escaped
    ['1,0ann@example.org0,04111111111111111\n', 3], // CSV QUOTE '0'
    ['ann\\100example.org\n', 1], // octal escape of '@'
    ['{4111111111111111,5555555555554444}\n', 1],
  ])('%j', (r, n) => {
    const out = row(r, n) ?? '';
    expect(out).not.toContain('ann@example.org');
    expect(out).not.toContain('4111111111111111');
    expect(out).not.toContain('4111 1111 1111 1111');
    expect(out.endsWith('\n')).toBe(true);
  });

  it('gives up on a row too long for its candidate delimiters, and the COPY is refused', () => {
    const long = Array.from({ length: 80 }, (_, i) => String.fromCharCode(0x30 + i)).join('').repeat(2000);
    expect(row(`1\t${long}\n`, 2)).toBeUndefined();
    const out = through(copyOut(2), encodeCopyDataOut('1\tok\n'), encodeCopyDataOut(`1\t${long}\n`), encodeCopyDataOut('2\tok\n'), encodeCommandComplete('COPY 3'));
    expect(out.toString('latin1')).toContain('1\tok');
    expect(out.toString('latin1')).not.toContain('2\tok');
    expect(out.toString('latin1')).toMatch(/too large to mask/);
  });

  it('leaves a row without PII as it is (same string)', () => {
    const r = '1\tplain text\t2024-01-15\n';
    expect(row(r, 3)).toBe(r);
  });
});
