import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { serialize } from 'pg-protocol';
import { ProtocolError } from '../../../core/errors.ts';
import { FrontendCode as F } from './codes.ts';
import * as fe from './frontend.ts';
import { bodyOf, cstr, int16, int32, onlyProtocolErrors } from './test-util.ts';

const same = (a: Buffer, b: Buffer): void => expect(a.toString('hex')).toBe(b.toString('hex'));

describe('frontend encoders match pg-protocol byte for byte', () => {
  it('StartupMessage, SSLRequest, CancelRequest', () => {
    // pg-protocol always appends client_encoding=UTF8.
    same(fe.encodeStartup({ user: 'alice', database: 'db', client_encoding: 'UTF8' }), serialize.startup({ user: 'alice', database: 'db' }));
    same(fe.encodeStartup(new Map([['user', 'ü'], ['client_encoding', 'UTF8']])), serialize.startup({ user: 'ü' }));
    same(fe.encodeSslRequest(), serialize.requestSsl());
    same(fe.encodeCancelRequest(4242, -7), serialize.cancel(4242, -7));
    same(fe.encodeCancelRequest(1, 0xfffffff9), serialize.cancel(1, -7));
  });

  it('Password, SASLInitialResponse, SASLResponse', () => {
    same(fe.encodePassword('s3cret'), serialize.password('s3cret'));
    same(fe.encodePassword(''), serialize.password(''));
    same(
      fe.encodeSaslInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=,r=abc')),
      serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=abc'),
    );
    same(fe.encodeSaslResponse(Buffer.from('c=biws,r=abc,p=xyz')), serialize.sendSCRAMClientFinalMessage('c=biws,r=abc,p=xyz'));
  });

  it('Query, Parse', () => {
    same(fe.encodeQuery('select 1; select ’é’'), serialize.query('select 1; select ’é’'));
    same(fe.encodeQuery(''), serialize.query(''));
    same(fe.encodeParse('', 'select 1'), serialize.parse({ text: 'select 1' }));
    same(fe.encodeParse('stmt', 'select $1, $2', [23, 0xffffffff]), serialize.parse({ name: 'stmt', text: 'select $1, $2', types: [23, 0xffffffff] }));
  });

  it('Bind', () => {
    same(fe.encodeBind('', '', []), serialize.bind({}));
    const values = ['42', null, Buffer.from([0, 1, 2]), 'ünï', Buffer.alloc(0), ''];
    same(fe.encodeBind('p1', 's1', values), serialize.bind({ portal: 'p1', statement: 's1', values }));
    same(fe.encodeBind('', 's', ['x'], [1]), serialize.bind({ statement: 's', values: ['x'], binary: true }));
  });

  it('Execute, Describe, Close', () => {
    same(fe.encodeExecute('', 0), serialize.execute());
    same(fe.encodeExecute('portal', 100), serialize.execute({ portal: 'portal', rows: 100 }));
    same(fe.encodeDescribe('S', ''), serialize.describe({ type: 'S' }));
    same(fe.encodeDescribe('P', ''), serialize.describe({ type: 'P' }));
    same(fe.encodeDescribe('S', 'stmt'), serialize.describe({ type: 'S', name: 'stmt' }));
    same(fe.encodeClose('P', 'portal'), serialize.close({ type: 'P', name: 'portal' }));
  });

  it('Sync, Flush, Terminate, CopyData, CopyDone, CopyFail', () => {
    same(fe.encodeSync(), serialize.sync());
    same(fe.encodeFlush(), serialize.flush());
    same(fe.encodeTerminate(), serialize.end());
    same(fe.encodeCopyData(Buffer.from('1\tfoo\n')), serialize.copyData(Buffer.from('1\tfoo\n')));
    same(fe.encodeCopyDone(), serialize.copyDone());
    same(fe.encodeCopyFail('client gave up'), serialize.copyFail('client gave up'));
  });
});

describe('frontend round trips', () => {
  it('Query', () => {
    expect(fe.decodeQuery(bodyOf(fe.encodeQuery('select ’ü’'), F.Query))).toEqual({ text: 'select ’ü’' });
  });

  it('Parse', () => {
    const m = fe.encodeParse('s', 'select $1', [23, 0, 4294967295]);
    expect(fe.decodeParse(bodyOf(m, F.Parse))).toEqual({ name: 's', text: 'select $1', paramTypes: [23, 0, 4294967295] });
  });

  it('Bind, with params as zero-copy subarrays', () => {
    const body = bodyOf(fe.encodeBind('p', 's', ['abc', null, Buffer.from([9, 8]), ''], [0, 1]), F.Bind);
    const b = fe.decodeBind(body);
    expect(b).toEqual({
      portal: 'p',
      statement: 's',
      paramFormats: [0, 0, 1, 0],
      params: [Buffer.from('abc'), null, Buffer.from([9, 8]), Buffer.alloc(0)],
      resultFormats: [0, 1],
    });
    expect(b.params[0]!.buffer).toBe(body.buffer);
  });

  it('Bind with 65535 parameters (count read as unsigned)', () => {
    const params = new Array<string | null>(65535).fill(null);
    expect(fe.decodeBind(bodyOf(fe.encodeBind('', '', params), F.Bind)).params.length).toBe(65535);
    expect(() => fe.encodeBind('', '', [...params, null])).toThrow(ProtocolError);
  });

  it('Execute, Describe, Close', () => {
    expect(fe.decodeExecute(bodyOf(fe.encodeExecute('cur', 50), F.Execute))).toEqual({ portal: 'cur', maxRows: 50 });
    expect(fe.decodeDescribe(bodyOf(fe.encodeDescribe('S', 'x'), F.Describe))).toEqual({ kind: 'S', name: 'x' });
    expect(fe.decodeDescribe(bodyOf(fe.encodeDescribe('P', ''), F.Describe))).toEqual({ kind: 'P', name: '' });
    expect(fe.decodeClose(bodyOf(fe.encodeClose('P', 'c1'), F.Close))).toEqual({ kind: 'P', name: 'c1' });
  });

  it('Password, SASLInitialResponse, SASLResponse, CopyFail', () => {
    expect(fe.decodePassword(bodyOf(fe.encodePassword('pä$$'), F.Password))).toBe('pä$$');
    const init = fe.decodeSaslInitialResponse(bodyOf(fe.encodeSaslInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=,r=x')), F.Password));
    expect(init.mechanism).toBe('SCRAM-SHA-256');
    expect(init.data?.toString()).toBe('n,,n=,r=x');
    expect(bodyOf(fe.encodeSaslResponse(Buffer.from('c=biws')), F.Password).toString()).toBe('c=biws');
    expect(fe.decodeCopyFail(bodyOf(fe.encodeCopyFail('boom'), F.CopyFail))).toEqual({ message: 'boom' });
  });

  it('SASLInitialResponse with no initial response (length -1)', () => {
    expect(fe.decodeSaslInitialResponse(Buffer.concat([cstr('SCRAM-SHA-256'), int32(-1)]))).toEqual({ mechanism: 'SCRAM-SHA-256', data: null });
  });

  it('header-only messages have empty bodies', () => {
    for (const [m, code] of [
      [fe.encodeSync(), F.Sync],
      [fe.encodeFlush(), F.Flush],
      [fe.encodeTerminate(), F.Terminate],
      [fe.encodeCopyDone(), F.CopyDone],
    ] as const) {
      expect(bodyOf(m, code).length).toBe(0);
    }
  });
});

describe('frontend decoders reject malformed bodies', () => {
  it('missing terminators and trailing bytes', () => {
    expect(() => fe.decodeQuery(Buffer.from('select 1'))).toThrow('malformed Query');
    expect(() => fe.decodeQuery(Buffer.from('select 1\0x'))).toThrow('malformed Query');
    expect(() => fe.decodePassword(Buffer.from('pw'))).toThrow('malformed PasswordMessage');
    expect(() => fe.decodeCopyFail(Buffer.alloc(0))).toThrow('malformed CopyFail');
    expect(() => fe.decodeExecute(Buffer.concat([cstr(''), int16(0)]))).toThrow('malformed Execute');
  });

  it('Describe/Close with a bad kind', () => {
    expect(() => fe.decodeDescribe(Buffer.from('Xname\0'))).toThrow('malformed Describe');
    expect(() => fe.decodeClose(Buffer.alloc(0))).toThrow('malformed Close');
  });

  it('Parse with a wrong type count', () => {
    expect(() => fe.decodeParse(Buffer.concat([cstr(''), cstr('q'), int16(2), int32(23)]))).toThrow('malformed Parse');
  });

  it('Bind with truncated or negative lengths', () => {
    const head = Buffer.concat([cstr(''), cstr(''), int16(0), int16(1)]);
    expect(() => fe.decodeBind(Buffer.concat([head, int32(10), Buffer.from('abc'), int16(0)]))).toThrow('malformed Bind');
    expect(() => fe.decodeBind(Buffer.concat([head, int32(-2), int16(0)]))).toThrow('malformed Bind');
    expect(() => fe.decodeBind(Buffer.concat([head, int32(0)]))).toThrow('malformed Bind');
    expect(() => fe.decodeBind(Buffer.concat([cstr(''), cstr(''), int16(-1)]))).toThrow('malformed Bind');
  });

  it('encoders refuse strings with NUL, which would corrupt framing', () => {
    expect(() => fe.encodeQuery('a\0b')).toThrow(ProtocolError);
    expect(() => fe.encodeStartup({ user: 'a\0' })).toThrow(ProtocolError);
  });
});

describe('frontend decoders under random input', () => {
  const decoders: [string, (b: Buffer) => unknown][] = [
    ['Query', fe.decodeQuery],
    ['Parse', fe.decodeParse],
    ['Bind', fe.decodeBind],
    ['Execute', fe.decodeExecute],
    ['Describe', fe.decodeDescribe],
    ['Close', fe.decodeClose],
    ['PasswordMessage', fe.decodePassword],
    ['SASLInitialResponse', fe.decodeSaslInitialResponse],
    ['CopyFail', fe.decodeCopyFail],
  ];
  const valid = [
    fe.encodeQuery('select 1'),
    fe.encodeParse('s', 'q', [1, 2]),
    fe.encodeBind('p', 's', ['a', null, Buffer.from([1])], [1]),
    fe.encodeExecute('p', 3),
    fe.encodeDescribe('S', 's'),
    fe.encodeClose('P', 'p'),
    fe.encodePassword('pw'),
    fe.encodeSaslInitialResponse('M', Buffer.from('d')),
    fe.encodeCopyFail('x'),
  ].map((m) => m.subarray(5));

  it.each(decoders)('%s throws nothing but ProtocolError on random bytes', (_name, decode) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => onlyProtocolErrors(() => decode(Buffer.from(b)))));
  });

  it.each(decoders.map((d, i) => [d[0], d[1], valid[i]!] as const))(
    '%s throws nothing but ProtocolError on mutated valid bodies',
    (_name, decode, body) => {
      const mutation = fc.record({ at: fc.nat(body.length), byte: fc.integer({ min: 0, max: 255 }), cut: fc.nat(body.length + 2) });
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (muts) => {
          let b = Buffer.from(body);
          for (const m of muts) {
            if (m.at < b.length) b[m.at] = m.byte;
            if (m.cut < b.length) b = b.subarray(0, m.cut);
          }
          onlyProtocolErrors(() => decode(b));
        }),
      );
    },
  );

  it('the reference encoder output always decodes', () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.option(fc.string(), { nil: null }), { maxLength: 5 }), (text, values) => {
        const q = text.replace(/\0/g, '');
        expect(fe.decodeQuery(bodyOf(serialize.query(q), F.Query)).text).toBe(q);
        const b = fe.decodeBind(bodyOf(serialize.bind({ values }), F.Bind));
        expect(b.params.map((p) => (p === null ? null : p.toString('utf8')))).toEqual(values);
      }),
    );
  });
});
