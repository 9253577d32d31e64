/**
 * Untyped first messages from a client: Int32 length (includes itself), Int32 code, payload.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 *
 *   StartupMessage   len, Int32 protocol (major << 16 | minor), (String name, String value)*, Byte1 0
 *   SSLRequest       len=8,  Int32 80877103
 *   GSSENCRequest    len=8,  Int32 80877104
 *   CancelRequest    len=16, Int32 80877102, Int32 pid, Int32 secret key
 */
import { ProtocolError } from '../../../core/errors.ts';
import { CANCEL_REQUEST, GSSENC_REQUEST, SSL_REQUEST } from './codes.ts';
import { BufferReader } from './reader.ts';

export type StartupPacket =
  | { readonly type: 'ssl' }
  | { readonly type: 'gssenc' }
  | { readonly type: 'cancel'; readonly pid: number; readonly secret: number }
  | { readonly type: 'startup'; readonly protocol: number; readonly params: ReadonlyMap<string, string> };

const EMPTY = Buffer.alloc(0);

/**
 * After an 'ssl' / 'gssenc' / 'startup' packet the stream changes format (TLS, GSSAPI, typed messages):
 * stop calling next() and move takeRemainder() to the next reader.
 */
export class StartupReader {
  private readonly max: number;
  private buf: Buffer = EMPTY;

  constructor(maxBytes = 10_000) {
    this.max = maxBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Startup traffic is a few small packets, and lengths are validated as soon as 4 bytes arrive.
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  next(): StartupPacket | undefined {
    const buf = this.buf;
    if (buf.length < 4) return undefined;
    const len = buf.readInt32BE(0);
    if (len < 8 || len > this.max) throw new ProtocolError(`malformed startup packet length ${len}`);
    if (buf.length < 8) return undefined;
    const code = buf.readInt32BE(4);
    const packetSize = expectedSize(code);
    if (packetSize !== undefined && len !== packetSize) throw new ProtocolError('malformed startup packet');
    if (buf.length < len) return undefined;
    const packet = buf.subarray(0, len);
    this.buf = len === buf.length ? EMPTY : buf.subarray(len);
    return decodePacket(code, packet);
  }

  get buffered(): number {
    return this.buf.length;
  }

  takeRemainder(): Buffer {
    const out = this.buf;
    this.buf = EMPTY;
    return out;
  }
}

/** Fixed size of a request code's packet; undefined for StartupMessage; throws for unknown codes. */
function expectedSize(code: number): number | undefined {
  switch (code) {
    case SSL_REQUEST:
    case GSSENC_REQUEST:
      return 8;
    case CANCEL_REQUEST:
      return 16;
    default:
      if (code >>> 16 === 3) return undefined;
      throw new ProtocolError(`unsupported startup code ${code}`);
  }
}

function decodePacket(code: number, packet: Buffer): StartupPacket {
  switch (code) {
    case SSL_REQUEST:
      return { type: 'ssl' };
    case GSSENC_REQUEST:
      return { type: 'gssenc' };
    case CANCEL_REQUEST:
      return { type: 'cancel', pid: packet.readInt32BE(8), secret: packet.readInt32BE(12) };
    default:
      // Any 3.x: the caller decides whether to answer with NegotiateProtocolVersion.
      return { type: 'startup', protocol: code, params: decodeStartupParams(packet.subarray(8)) };
  }
}

/** Decodes `name\0value\0...name\0value\0\0`; the final NUL must be the last byte. */
export function decodeStartupParams(body: Buffer): Map<string, string> {
  const r = new BufferReader(body, 'startup packet');
  const params = new Map<string, string>();
  for (;;) {
    const name = r.cstring();
    if (name === '') break;
    params.set(name, r.cstring());
  }
  r.end();
  return params;
}
