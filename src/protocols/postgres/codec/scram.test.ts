import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ProtocolError } from '../../../core/errors.ts';
import { ScramClient, md5Password } from './scram.ts';
import { onlyProtocolErrors } from './test-util.ts';

// RFC 7677 section 3.
const CLIENT_NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

/** Minimal SCRAM-SHA-256 server side, written independently for the exchange test. */
function serverSignature(password: string, salt: Buffer, iterations: number, authMessage: string): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return createHmac('sha256', serverKey).update(authMessage).digest('base64');
}

describe('ScramClient', () => {
  it('reproduces the RFC 7677 test vector', () => {
    const c = new ScramClient('pencil', CLIENT_NONCE, 'user');
    expect(c.clientFirstMessage()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    expect(c.handleServerFirst(SERVER_FIRST)).toBe(CLIENT_FINAL);
    expect(() => c.verifyServerFinal(SERVER_FINAL)).not.toThrow();
  });

  it('sends an empty username as PostgreSQL expects', () => {
    expect(new ScramClient('pw', 'abc').clientFirstMessage()).toBe('n,,n=,r=abc');
    const random = new ScramClient('pw').clientFirstMessage();
    expect(random).toMatch(/^n,,n=,r=[A-Za-z0-9+/=]{24}$/);
    expect(new ScramClient('pw').clientFirstMessage()).not.toBe(random);
  });

  it('completes an exchange with an empty username against an independent server computation', () => {
    const c = new ScramClient('correct horse', 'clientnonce');
    const salt = Buffer.from('0123456789abcdef');
    const serverFirst = `r=clientnonceSERVER,s=${salt.toString('base64')},i=4096`;
    const clientFinal = c.handleServerFirst(serverFirst);
    const withoutProof = clientFinal.slice(0, clientFinal.indexOf(',p='));
    expect(withoutProof).toBe('c=biws,r=clientnonceSERVER');
    const authMessage = `n=,r=clientnonce,${serverFirst},${withoutProof}`;

    const salted = pbkdf2Sync('correct horse', salt, 4096, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const sig = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientFinal.slice(clientFinal.indexOf(',p=') + 3), 'base64');
    const recovered = Buffer.from(proof.map((b, i) => b ^ sig[i]!));
    expect(createHash('sha256').update(recovered).digest().equals(storedKey)).toBe(true);

    c.verifyServerFinal(`v=${serverSignature('correct horse', salt, 4096, authMessage)}`);
  });

  it('rejects a wrong server signature', () => {
    const c = new ScramClient('pencil', CLIENT_NONCE, 'user');
    c.handleServerFirst(SERVER_FIRST);
    expect(() => c.verifyServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')).toThrow('SCRAM server signature mismatch');
    expect(() => c.verifyServerFinal('v=')).toThrow('SCRAM server signature mismatch');
  });

  it('rejects a server error and a signature for a different password', () => {
    const c = new ScramClient('not pencil', CLIENT_NONCE, 'user');
    c.handleServerFirst(SERVER_FIRST);
    expect(() => c.verifyServerFinal(SERVER_FINAL)).toThrow('SCRAM server signature mismatch');
    expect(() => c.verifyServerFinal('e=invalid-proof')).toThrow(ProtocolError);
    expect(() => c.verifyServerFinal('e=invalid-proof')).toThrow('SCRAM server signature mismatch');
  });

  it('rejects a server nonce that does not extend the client nonce', () => {
    const c = new ScramClient('pw', 'abc');
    expect(() => c.handleServerFirst('r=xyzabc,s=c2FsdA==,i=4096')).toThrow('SCRAM server nonce mismatch');
    expect(() => c.handleServerFirst('r=abc,s=c2FsdA==,i=4096')).toThrow('SCRAM server nonce mismatch');
  });

  it('rejects bad iteration counts, salts and layouts', () => {
    const bad = [
      'r=abcd,s=c2FsdA==,i=0',
      'r=abcd,s=c2FsdA==,i=-1',
      'r=abcd,s=c2FsdA==,i=x',
      'r=abcd,s=c2FsdA==,i=99999999999',
      'r=abcd,s=c2FsdA==',
      'r=abcd,s=,i=1',
      'r=abcd,s=not base64!,i=1',
      'm=ext,r=abcd,s=c2FsdA==,i=1',
      'garbage',
      '',
    ];
    for (const s of bad) expect(() => new ScramClient('pw', 'abc').handleServerFirst(s)).toThrow(ProtocolError);
  });

  it('enforces message order', () => {
    const c = new ScramClient('pencil', CLIENT_NONCE, 'user');
    expect(() => c.verifyServerFinal(SERVER_FINAL)).toThrow(ProtocolError);
    c.handleServerFirst(SERVER_FIRST);
    expect(() => c.handleServerFirst(SERVER_FIRST)).toThrow(ProtocolError);
    c.verifyServerFinal(SERVER_FINAL);
    expect(() => c.verifyServerFinal(SERVER_FINAL)).toThrow(ProtocolError);
  });

  it('throws nothing but ProtocolError on random server messages', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (first, final) => {
        const c = new ScramClient('pw', 'abc');
        onlyProtocolErrors(() => c.handleServerFirst(`r=abc${first}`));
        onlyProtocolErrors(() => c.handleServerFirst(first));
        onlyProtocolErrors(() => c.verifyServerFinal(final));
      }),
    );
  });
});

describe('md5Password', () => {
  it('matches an independent computation', () => {
    const salt = Buffer.from([0x93, 0x00, 0xff, 0x2a]);
    const inner = createHash('md5').update('secret' + 'alice').digest('hex');
    const expected = 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
    expect(md5Password('alice', 'secret', salt)).toBe(expected);
    expect(expected).toMatch(/^md5[0-9a-f]{32}$/);
  });

  it('matches a fixed known value', () => {
    // md5('postgres' + 'postgres') = 'md53175bce1d3201d16594cebf9d7eb3f9d' (as stored in pg_authid).
    expect(createHash('md5').update('postgrespostgres').digest('hex')).toBe('3175bce1d3201d16594cebf9d7eb3f9d');
    const salt = Buffer.from('abcd');
    const expected = createHash('md5').update('3175bce1d3201d16594cebf9d7eb3f9dabcd').digest('hex');
    expect(md5Password('postgres', 'postgres', salt)).toBe(`md5${expected}`);
  });
});
