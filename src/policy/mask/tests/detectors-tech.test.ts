import { describe, expect, it } from 'vitest';
import { isIpv4 } from '../detectors/ipv4.ts';
import { isIpv6 } from '../detectors/ipv6.ts';
import { jwtHeaderValid } from '../detectors/jwt.ts';
import { found } from './helpers.ts';

const b64url = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('base64url');
const jwt = (header: unknown, payload: unknown, sig = 'c2lnbmF0dXJlLWJ5dGVz'): string => `${b64url(header)}.${b64url(payload)}.${sig}`;

describe('ipv4', () => {
  it('validates octets', () => {
    expect(isIpv4('192.168.1.10')).toBe(true);
    expect(isIpv4('256.1.1.1')).toBe(false);
    expect(isIpv4('01.2.3.4')).toBe(false);
  });

  it.each([
    ['client 192.168.1.10 connected', '192.168.1.10'],
    ['host=10.0.0.1:5432', '10.0.0.1'],
    ['allow 172.16.254.1/24', '172.16.254.1'],
    ['http://10.1.2.3/admin', '10.1.2.3'],
  ])('finds the address in %j', (text, ip) => expect(found(text)).toEqual([`ipv4:${ip}`]));

  it.each(['version 1.2.3.4', 'v1.2.3.4', 'Chrome/120.0.0.0', '1.2.3.4.5', 'oid 1.3.6.1.4.1.311', '999.1.1.1', '10.0.19045', '1.2.3'])(
    'ignores %j',
    (text) => expect(found(text)).toEqual([]),
  );
});

describe('ipv6', () => {
  it('parses RFC 4291 text forms', () => {
    expect(isIpv6('2001:db8::1')).toBe(true);
    expect(isIpv6('2001:0db8:85a3:0000:0000:8a2e:0370:7334')).toBe(true);
    expect(isIpv6('::ffff:192.0.2.128')).toBe(true);
    expect(isIpv6('2001:db8::1::2')).toBe(false);
    expect(isIpv6('1:2:3:4:5:6:7')).toBe(false);
    expect(isIpv6('12:30:45')).toBe(false);
    expect(isIpv6('::1')).toBe(false); // a single group: loopback, not an identifier
    expect(isIpv6('dead::beef')).toBe(false); // no decimal digit
  });

  it.each([
    ['ip 2001:db8::1', '2001:db8::1'],
    ['fe80::1ff:fe23:4567:890a%eth0', 'fe80::1ff:fe23:4567:890a'],
    ['[2001:db8::1]:8080', '2001:db8::1'],
    ['FE80::0202:B3FF:FE1E:8329', 'FE80::0202:B3FF:FE1E:8329'],
  ])('finds the address in %j', (text, ip) => expect(found(text)).toEqual([`ipv6:${ip}`]));

  it.each(['12:30:45', '2024-01-15T12:30:45Z', 'std::vector', "'2024-01-15'::date", '00:1a:2b:3c:4d:5e', 'ratio 1:2:3'])(
    'ignores %j',
    (text) => expect(found(text)).toEqual([]),
  );
});

describe('jwt', () => {
  it('requires a JSON header with a string alg', () => {
    expect(jwtHeaderValid(b64url({ alg: 'HS256', typ: 'JWT' }))).toBe(true);
    expect(jwtHeaderValid(b64url({ typ: 'JWT' }))).toBe(false);
    expect(jwtHeaderValid(b64url({ alg: 7 }))).toBe(false);
    expect(jwtHeaderValid('eyJub3QganNvbg')).toBe(false);
  });

  it('finds whole tokens, including unsigned ones', () => {
    const token = jwt({ alg: 'RS256' }, { sub: '42' });
    expect(found(`Bearer ${token} x`)).toEqual([`jwt:${token}`]);
    const unsigned = `${b64url({ alg: 'none' })}.${b64url({ sub: 'a' })}.`;
    expect(found(`t=${unsigned}`)).toEqual([`jwt:${unsigned}`]);
  });

  it('ignores tokens without alg and two-part strings', () => {
    expect(found(jwt({ typ: 'JWT' }, { sub: '42' }))).toEqual([]);
    expect(found(`${b64url({ alg: 'HS256' })}.${b64url({ sub: 1 })}`)).toEqual([]);
  });
});

describe('private_key', () => {
  const body = 'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun';

  it.each(['RSA ', 'EC ', 'OPENSSH ', 'ENCRYPTED ', ''])('masks the whole %sPRIVATE KEY block', (label) => {
    const block = `-----BEGIN ${label}PRIVATE KEY-----\n${body}\n-----END ${label}PRIVATE KEY-----`;
    expect(found(`before\n${block}\nafter`)).toEqual([`private_key:${block}`]);
  });

  it('masks PGP private key blocks', () => {
    const block = `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${body}\n-----END PGP PRIVATE KEY BLOCK-----`;
    expect(found(block)).toEqual([`private_key:${block}`]);
  });

  it('masks to the end of the text when the END line is cut off', () => {
    const cut = `-----BEGIN PRIVATE KEY-----\n${body.slice(0, 20)}`;
    expect(found(`x ${cut}`)).toEqual([`private_key:${cut}`]);
  });

  it('ignores public keys and certificates', () => {
    expect(found(`-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----`)).toEqual([]);
    expect(found(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`)).toEqual([]);
  });
});

describe('secret', () => {
  it.each([
    ['AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
    ['sts ASIAY34FZKBOKMUTVV7A', 'ASIAY34FZKBOKMUTVV7A'],
    [`t ghp_${'a1B2'.repeat(9)}`, `ghp_${'a1B2'.repeat(9)}`],
    [`gho_${'Z'.repeat(36)}`, `gho_${'Z'.repeat(36)}`],
    [`x github_pat_${'A'.repeat(22)}_${'b'.repeat(59)} y`, `github_pat_${'A'.repeat(22)}_${'b'.repeat(59)}`],
    ['xoxb-123456789012-abcdefghij', 'xoxb-123456789012-abcdefghij'],
  ])('masks token %j whole', (text, token) => expect(found(text)).toEqual([`secret:${token}`]));

  it.each([
    ['password=hunter2', 'hunter2'],
    ['DB_PASSWORD=s3cr3t ./run', 's3cr3t'],
    ['--password=correct-horse', 'correct-horse'],
    ['{"password":"P@ss w0rd"}', 'P@ss w0rd'],
    ['"api_key": "abc123"', 'abc123'],
    ["{'apiKey': 'k-1'}", 'k-1'],
    ['secret: s3cr3t', 's3cr3t'],
    ['access_token=ya29.x&y=1', 'ya29.x'],
    ['client_secret := xyz789', 'xyz789'],
    ["'token' => 'tok_1'", 'tok_1'],
    ["ALTER ROLE app PASSWORD 'pw1'", 'pw1'],
    ["CREATE USER u IDENTIFIED BY 'mysql1'", 'mysql1'],
    ['postgres://app:pw@db.example.com/x', 'pw'],
    ['Authorization: Bearer abcdef0123456789', 'abcdef0123456789'],
  ])('masks only the value in %j', (text, value) => expect(found(text)).toEqual([`secret:${value}`]));

  it.each([
    'Reset your password by clicking the link',
    'the password field is required',
    '{"password": null}',
    'password = $1',
    'WHERE password = ?',
    'password: ********',
    'token: ${GITHUB_TOKEN}',
    'max_tokens: 4096',
    'token_count=512',
    'passwordless=true',
    'keyword=x',
    'AKIA1234',
    'ghp_short',
    'PWD=/home/ann',
    'password: [SECRET]',
    'password=[SECRET:1f3a9c2b]',
    '"password": "[SECRET]"',
  ])('ignores %j', (text) => expect(found(text)).toEqual([]));
});
