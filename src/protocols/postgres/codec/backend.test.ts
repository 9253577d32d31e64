import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { ProtocolError } from '../../../core/errors.ts';
import { BackendCode as B } from './codes.ts';
import * as be from './backend.ts';
import type { FieldDescription } from './backend.ts';
import { bodyOf, cstr, int16, int32, onlyProtocolErrors } from './test-util.ts';

/** Parses backend bytes with node-postgres's parser; asserts it consumed them all. */
function pgParse(bytes: Buffer): (BackendMessage & Record<string, unknown>)[] {
  const out: (BackendMessage & Record<string, unknown>)[] = [];
  new Parser().parse(bytes, (m) => out.push(m as BackendMessage & Record<string, unknown>));
  return out;
}

function one(bytes: Buffer): BackendMessage & Record<string, unknown> {
  const msgs = pgParse(bytes);
  expect(msgs.length).toBe(1);
  expect(msgs[0]!.length).toBe(bytes.length - 1);
  return msgs[0]!;
}

const fields: FieldDescription[] = [
  { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeMod: -1, format: 0 },
  { name: 'nämé', tableOid: 0xfffffff0, columnAttr: -2, typeOid: 25, typeSize: -1, typeMod: 68, format: 1 },
];

describe('backend encoders are valid for pg-protocol and round-trip', () => {
  it('Authentication requests', () => {
    expect(one(be.encodeAuthenticationOk()).name).toBe('authenticationOk');
    expect(be.decodeAuthentication(bodyOf(be.encodeAuthenticationOk(), B.Authentication))).toEqual({ type: 'ok' });

    expect(one(be.encodeAuthenticationCleartext()).name).toBe('authenticationCleartextPassword');
    expect(be.decodeAuthentication(bodyOf(be.encodeAuthenticationCleartext(), B.Authentication))).toEqual({ type: 'cleartext' });

    const salt = Buffer.from([1, 2, 3, 4]);
    const md5 = be.encodeAuthenticationMd5(salt);
    expect((one(md5).salt as Buffer).equals(salt)).toBe(true);
    expect(be.decodeAuthentication(bodyOf(md5, B.Authentication))).toEqual({ type: 'md5', salt });

    const sasl = be.encodeAuthenticationSasl(['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS']);
    expect(one(sasl).mechanisms).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS']);
    expect(be.decodeAuthentication(bodyOf(sasl, B.Authentication))).toEqual({ type: 'sasl', mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'] });

    const cont = be.encodeAuthenticationSaslContinue(Buffer.from('r=abc,s=c2FsdA==,i=4096'));
    expect(one(cont)).toMatchObject({ name: 'authenticationSASLContinue', data: 'r=abc,s=c2FsdA==,i=4096' });
    expect(be.decodeAuthentication(bodyOf(cont, B.Authentication))).toEqual({ type: 'saslContinue', data: Buffer.from('r=abc,s=c2FsdA==,i=4096') });

    const fin = be.encodeAuthenticationSaslFinal(Buffer.from('v=xyz'));
    expect(one(fin)).toMatchObject({ name: 'authenticationSASLFinal', data: 'v=xyz' });
    expect(be.decodeAuthentication(bodyOf(fin, B.Authentication))).toEqual({ type: 'saslFinal', data: Buffer.from('v=xyz') });
  });

  it('other authentication codes (GSS, SSPI, ...) are reported, not rejected', () => {
    expect(be.decodeAuthentication(int32(7))).toEqual({ type: 'other', code: 7 });
    expect(be.decodeAuthentication(Buffer.concat([int32(8), Buffer.from('tok')]))).toEqual({ type: 'other', code: 8 });
  });

  it('ParameterStatus, BackendKeyData, ReadyForQuery', () => {
    const ps = be.encodeParameterStatus('server_version', '16.3');
    expect(one(ps)).toMatchObject({ name: 'parameterStatus', parameterName: 'server_version', parameterValue: '16.3' });
    expect(be.decodeParameterStatus(bodyOf(ps, B.ParameterStatus))).toEqual({ name: 'server_version', value: '16.3' });

    const key = be.encodeBackendKeyData(31337, -99);
    expect(one(key)).toMatchObject({ name: 'backendKeyData', processID: 31337, secretKey: -99 });
    expect(be.decodeBackendKeyData(bodyOf(key, B.BackendKeyData))).toEqual({ pid: 31337, secret: -99 });
    expect(be.decodeBackendKeyData(bodyOf(be.encodeBackendKeyData(1, 0xffffff9d), B.BackendKeyData)).secret).toBe(-99);

    for (const s of ['I', 'T', 'E'] as const) {
      const z = be.encodeReadyForQuery(s);
      expect(one(z)).toMatchObject({ name: 'readyForQuery', status: s });
      expect(be.decodeReadyForQuery(bodyOf(z, B.ReadyForQuery))).toBe(s);
    }
  });

  it('ErrorResponse and NoticeResponse', () => {
    const err = be.encodeErrorResponse({ severity: 'FATAL', code: '28P01', message: 'password authentication failed', detail: 'd', hint: 'h' });
    expect(one(err)).toMatchObject({ name: 'error', severity: 'FATAL', code: '28P01', message: 'password authentication failed', detail: 'd', hint: 'h' });
    expect(be.decodeErrorFields(bodyOf(err, B.ErrorResponse))).toEqual({ S: 'FATAL', V: 'FATAL', C: '28P01', M: 'password authentication failed', D: 'd', H: 'h' });

    const bare = be.encodeErrorResponse({ severity: 'ERROR', code: '42501', message: 'dénied' });
    expect(be.decodeErrorFields(bodyOf(bare, B.ErrorResponse))).toEqual({ S: 'ERROR', V: 'ERROR', C: '42501', M: 'dénied' });

    const notice = be.encodeNoticeResponse({ severity: 'WARNING', code: '01000', message: 'careful', hint: 'x' });
    expect(one(notice)).toMatchObject({ name: 'notice', severity: 'WARNING', code: '01000', message: 'careful', hint: 'x' });
    expect(be.decodeErrorFields(bodyOf(notice, B.NoticeResponse))).toEqual({ S: 'WARNING', V: 'WARNING', C: '01000', M: 'careful', H: 'x' });
  });

  it('RowDescription', () => {
    const t = be.encodeRowDescription(fields);
    const parsed = one(t).fields as { name: string; tableID: number; columnID: number; dataTypeID: number; dataTypeSize: number; dataTypeModifier: number; format: string }[];
    expect(parsed.map((f) => [f.name, f.tableID, f.columnID, f.dataTypeID, f.dataTypeSize, f.dataTypeModifier, f.format])).toEqual([
      ['id', 16384, 1, 23, 4, -1, 'text'],
      ['nämé', 0xfffffff0, -2, 25, -1, 68, 'binary'],
    ]);
    expect(be.decodeRowDescription(bodyOf(t, B.RowDescription))).toEqual(fields);
    expect(be.decodeRowDescription(bodyOf(be.encodeRowDescription([]), B.RowDescription))).toEqual([]);
  });

  it('DataRow, with values as zero-copy subarrays', () => {
    const d = be.encodeDataRow(['1', null, 'ünï', Buffer.from('raw'), '']);
    expect(one(d).fields).toEqual(['1', null, 'ünï', 'raw', '']);
    const body = bodyOf(d, B.DataRow);
    const values = be.decodeDataRow(body);
    expect(values).toEqual([Buffer.from('1'), null, Buffer.from('ünï'), Buffer.from('raw'), Buffer.alloc(0)]);
    expect(values[0]!.buffer).toBe(body.buffer);
    expect(values[0]!.byteOffset).toBe(body.byteOffset + 2 + 4);
    expect(be.dataRowColumnCount(body)).toBe(5);
  });

  it('CommandComplete and EmptyQueryResponse', () => {
    const c = be.encodeCommandComplete('INSERT 0 3');
    expect(one(c)).toMatchObject({ name: 'commandComplete', text: 'INSERT 0 3' });
    expect(be.decodeCommandComplete(bodyOf(c, B.CommandComplete))).toEqual({ tag: 'INSERT 0 3', rows: 3 });
    expect(one(be.encodeEmptyQueryResponse()).name).toBe('emptyQuery');
    expect(bodyOf(be.encodeEmptyQueryResponse(), B.EmptyQueryResponse).length).toBe(0);
  });

  it('a whole response stream parses in order', () => {
    const stream = Buffer.concat([
      be.encodeAuthenticationOk(),
      be.encodeParameterStatus('client_encoding', 'UTF8'),
      be.encodeBackendKeyData(1, 2),
      be.encodeReadyForQuery('I'),
      be.encodeRowDescription(fields),
      be.encodeDataRow(['1', null]),
      be.encodeCommandComplete('SELECT 1'),
      be.encodeReadyForQuery('I'),
    ]);
    expect(pgParse(stream).map((m) => m.name)).toEqual([
      'authenticationOk', 'parameterStatus', 'backendKeyData', 'readyForQuery',
      'rowDescription', 'dataRow', 'commandComplete', 'readyForQuery',
    ]);
  });
});

describe('backend decoders', () => {
  it('CommandComplete row counts', () => {
    const cases: [string, number | null][] = [
      ['SELECT 5', 5], ['INSERT 0 3', 3], ['UPDATE 2', 2], ['DELETE 0', 0], ['MERGE 7', 7],
      ['COPY 10', 10], ['FETCH 4', 4], ['MOVE 1', 1], ['CREATE TABLE', null], ['BEGIN', null],
      ['INSERT 3', null], ['SELECT', null], ['SELECT x', null],
    ];
    for (const [tag, rows] of cases) expect(be.decodeCommandComplete(cstr(tag))).toEqual({ tag, rows });
  });

  it('NotificationResponse', () => {
    const body = Buffer.concat([int32(77), cstr('chan'), cstr('payload ü')]);
    expect(be.decodeNotification(body)).toEqual({ pid: 77, channel: 'chan', payload: 'payload ü' });
  });

  it('Copy{In,Out,Both}Response', () => {
    const body = Buffer.concat([Buffer.from([1]), int16(3), int16(1), int16(1), int16(0)]);
    expect(be.decodeCopyResponse(body)).toEqual({ format: 1, columnFormats: [1, 1, 0] });
    expect(() => be.decodeCopyResponse(body.subarray(0, body.length - 1))).toThrow('malformed CopyResponse');
  });

  it('ParameterDescription', () => {
    expect(be.decodeParameterDescription(Buffer.concat([int16(2), int32(23), int32(-1)]))).toEqual([23, 0xffffffff]);
  });

  it('ErrorResponse fields beyond the encoded ones', () => {
    const body = Buffer.concat([Buffer.from('SERROR\0VERROR\0C42P01\0Mrelation "x" does not exist\0P15\0Fparse_relation.c\0L1392\0Rparser\0'), Buffer.from([0])]);
    expect(be.decodeErrorFields(body)).toMatchObject({ C: '42P01', P: '15', F: 'parse_relation.c', L: '1392', R: 'parser' });
  });

  it('rejects malformed bodies', () => {
    expect(() => be.decodeDataRow(Buffer.concat([int16(2), int32(1), Buffer.from('a')]))).toThrow('malformed DataRow');
    expect(() => be.decodeDataRow(Buffer.concat([int16(1), int32(-2)]))).toThrow('malformed DataRow');
    expect(() => be.decodeDataRow(Buffer.concat([int16(1), int32(5), Buffer.from('abc')]))).toThrow('malformed DataRow');
    expect(() => be.decodeDataRow(Buffer.concat([int16(0), Buffer.from('x')]))).toThrow('malformed DataRow');
    expect(() => be.dataRowColumnCount(Buffer.from([0]))).toThrow('malformed DataRow');
    expect(() => be.decodeReadyForQuery(Buffer.from('X'))).toThrow('malformed ReadyForQuery');
    expect(() => be.decodeReadyForQuery(Buffer.from('II'))).toThrow('malformed ReadyForQuery');
    expect(() => be.decodeErrorFields(Buffer.from('SERROR\0'))).toThrow('malformed ErrorResponse');
    expect(() => be.decodeErrorFields(Buffer.from('SERR'))).toThrow('malformed ErrorResponse');
    expect(() => be.decodeAuthentication(Buffer.concat([int32(5), Buffer.from([1, 2])]))).toThrow('malformed Authentication');
    expect(() => be.decodeAuthentication(Buffer.concat([int32(10), cstr('SCRAM-SHA-256')]))).toThrow('malformed Authentication');
    expect(() => be.decodeAuthentication(Buffer.from([0, 0]))).toThrow('malformed Authentication');
    expect(() => be.decodeRowDescription(Buffer.concat([int16(1), cstr('a'), int32(0)]))).toThrow('malformed RowDescription');
    expect(() => be.decodeBackendKeyData(Buffer.alloc(12))).toThrow('malformed BackendKeyData');
  });

  it('encoders refuse invalid input with ProtocolError', () => {
    expect(() => be.encodeAuthenticationMd5(Buffer.alloc(3))).toThrow(ProtocolError);
    expect(() => be.encodeCommandComplete('a\0')).toThrow(ProtocolError);
    expect(() => be.encodeReadyForQuery('X' as 'I')).toThrow(ProtocolError);
  });
});

describe('backend decoders under random input', () => {
  const decoders: [string, (b: Buffer) => unknown][] = [
    ['Authentication', be.decodeAuthentication],
    ['ParameterStatus', be.decodeParameterStatus],
    ['BackendKeyData', be.decodeBackendKeyData],
    ['ReadyForQuery', be.decodeReadyForQuery],
    ['RowDescription', be.decodeRowDescription],
    ['DataRow', be.decodeDataRow],
    ['dataRowColumnCount', be.dataRowColumnCount],
    ['CommandComplete', be.decodeCommandComplete],
    ['ErrorFields', be.decodeErrorFields],
    ['Notification', be.decodeNotification],
    ['CopyResponse', be.decodeCopyResponse],
    ['ParameterDescription', be.decodeParameterDescription],
  ];

  it.each(decoders)('%s throws nothing but ProtocolError on random bytes', (_name, decode) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => onlyProtocolErrors(() => decode(Buffer.from(b)))));
  });

  it('every decoder throws nothing but ProtocolError on mutated valid messages', () => {
    const bodies = [
      be.encodeAuthenticationSasl(['SCRAM-SHA-256']),
      be.encodeAuthenticationMd5(Buffer.from([1, 2, 3, 4])),
      be.encodeParameterStatus('a', 'b'),
      be.encodeRowDescription(fields),
      be.encodeDataRow(['x', null, 'yz']),
      be.encodeErrorResponse({ severity: 'ERROR', code: '1', message: 'm', detail: 'd' }),
      be.encodeCommandComplete('UPDATE 1'),
    ].map((m) => m.subarray(5));
    const arb = fc.record({
      body: fc.constantFrom(...bodies),
      at: fc.nat(60),
      byte: fc.integer({ min: 0, max: 255 }),
      cut: fc.nat(60),
    });
    fc.assert(
      fc.property(arb, ({ body, at, byte, cut }) => {
        const b = Buffer.from(body);
        if (at < b.length) b[at] = byte;
        const mutated = cut < b.length ? b.subarray(0, cut) : b;
        for (const [, decode] of decoders) onlyProtocolErrors(() => decode(mutated));
      }),
    );
  });
});
