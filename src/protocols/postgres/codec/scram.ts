/**
 * SCRAM-SHA-256 client (RFC 5802, RFC 7677) as PostgreSQL uses it: gs2 header 'n,,' (no channel binding),
 * empty username 'n=' (the server uses the startup user), messages carried in SASLInitialResponse /
 * SASLResponse. https://www.postgresql.org/docs/current/sasl-authentication.html
 *
 *   client-first  n,,n=,r=<cnonce>
 *   server-first  r=<cnonce+snonce>,s=<base64 salt>,i=<iterations>
 *   client-final  c=biws,r=<nonce>,p=<base64 proof>
 *   server-final  v=<base64 server signature> | e=<error>
 *
 * SASLprep (RFC 4013) is not applied: the password is used as-is, which matches PostgreSQL for ASCII
 * passwords and for any password PostgreSQL itself could not normalise.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from '../../../core/errors.ts';

const GS2_HEADER = 'n,,';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Printable ASCII except ',' (RFC 5802 'printable'). */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Splits 'a=1,b=2' into a map of single-letter attributes; duplicates and junk are errors. */
function attributes(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(',')) {
    if (part.length < 2 || part[1] !== '=' || out.has(part[0]!)) throw new ProtocolError('malformed SCRAM message');
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** RFC 5802 saslname: '=' → '=3D', ',' → '=2C'. */
function saslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

export class ScramClient {
  private readonly password: string;
  private readonly nonce: string;
  private readonly clientFirstBare: string;
  private expectedServerSignature: Buffer | undefined;
  private done = false;

  /** `username` defaults to '' as PostgreSQL sends it; set it only for RFC test vectors. */
  constructor(password: string, nonce?: string, username = '') {
    this.password = password;
    this.nonce = nonce ?? randomBytes(18).toString('base64');
    if (!NONCE.test(this.nonce)) throw new ProtocolError('invalid SCRAM client nonce');
    this.clientFirstBare = `n=${saslName(username)},r=${this.nonce}`;
  }

  clientFirstMessage(): string {
    return GS2_HEADER + this.clientFirstBare;
  }

  /** Validates server-first and returns client-final. */
  handleServerFirst(serverFirst: string): string {
    if (this.expectedServerSignature !== undefined) throw new ProtocolError('unexpected SCRAM server-first message');
    const attrs = attributes(serverFirst);
    if (attrs.has('m')) throw new ProtocolError('unsupported SCRAM extension');
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iter = attrs.get('i');
    if (nonce === undefined || salt === undefined || iter === undefined) {
      throw new ProtocolError('malformed SCRAM server-first message');
    }
    if (!nonce.startsWith(this.nonce) || nonce.length <= this.nonce.length || !NONCE.test(nonce)) {
      throw new ProtocolError('SCRAM server nonce mismatch');
    }
    if (salt === '' || !BASE64.test(salt)) throw new ProtocolError('malformed SCRAM salt');
    if (!/^[1-9]\d{0,9}$/.test(iter) || Number(iter) > 0x7fffffff) {
      throw new ProtocolError('invalid SCRAM iteration count');
    }
    const salted = pbkdf2Sync(this.password, Buffer.from(salt, 'base64'), Number(iter), 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(storedKey, authMessage));
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** True once the server has proved it knows the password (its signature checked). */
  get verified(): boolean {
    return this.done;
  }

  /** Checks the server signature; throws ProtocolError on mismatch or a server 'e=' error. */
  verifyServerFinal(serverFinal: string): void {
    const expected = this.expectedServerSignature;
    if (expected === undefined || this.done) throw new ProtocolError('unexpected SCRAM server-final message');
    const attrs = attributes(serverFinal);
    const err = attrs.get('e');
    if (err !== undefined) throw new ProtocolError(`SCRAM server signature mismatch (server error: ${err})`);
    const v = attrs.get('v');
    if (v === undefined || !BASE64.test(v)) throw new ProtocolError('SCRAM server signature mismatch');
    const got = Buffer.from(v, 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new ProtocolError('SCRAM server signature mismatch');
    }
    this.done = true;
  }
}

/** PostgreSQL md5 auth response: 'md5' + hex(md5(hex(md5(password + user)) + salt)). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user, 'utf8').digest('hex');
  return 'md5' + createHash('md5').update(inner, 'utf8').update(salt).digest('hex');
}
