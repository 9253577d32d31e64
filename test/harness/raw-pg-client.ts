import { connect, type Socket } from 'node:net';
import { encodePassword, encodeQuery, encodeStartup, encodeTerminate } from '../../src/protocols/postgres/codec/frontend.ts';
import { FrameReader, type Frame } from '../../src/protocols/postgres/codec/frame-reader.ts';
import { decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';

/**
 * A bare-bones PostgreSQL client over a raw socket, for tests that need control a driver does not give:
 * sending malformed bytes, reading slowly, counting bytes without keeping them.
 */
export class RawPgClient {
  readonly socket: Socket;
  private readonly reader = new FrameReader(1 << 30);
  private waiters: ((f: Frame) => void)[] = [];
  private frames: Frame[] = [];
  onFrame: ((f: Frame) => void) | undefined;
  closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.reader.push(c);
      for (let f = this.reader.next(); f; f = this.reader.next()) {
        if (this.onFrame) {
          this.onFrame(f);
          continue;
        }
        const copy = { code: f.code, bytes: Buffer.from(f.bytes), body: Buffer.from(f.body) };
        const w = this.waiters.shift();
        if (w) w(copy);
        else this.frames.push(copy);
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((r) => socket.on('close', () => r()));
  }

  /**
   * Logs in with a cleartext password; `startup` (when given) receives every frame after the password up to ReadyForQuery;
   * `localAddress` picks the source address (127.0.0.2 is another source on loopback).
   */
  static async login(port: number, user: string, database: string, password: string, startup?: Frame[], localAddress?: string): Promise<RawPgClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) }, () => resolve(s));
      s.once('error', reject);
    });
    const c = new RawPgClient(socket);
    socket.write(encodeStartup({ user, database }));
    await c.until('R');
    socket.write(encodePassword(password));
    for (;;) {
      const f = await c.next();
      startup?.push(f);
      if (f.code === 0x45) throw new Error(decodeErrorFields(f.body).M);
      if (f.code === 0x5a) return c;
    }
  }

  next(): Promise<Frame> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Reads frames until one of the given type letters arrives; returns it. */
  async until(...codes: string[]): Promise<Frame> {
    for (;;) {
      const f = await this.next();
      if (codes.includes(String.fromCharCode(f.code))) return f;
    }
  }

  query(text: string): void {
    this.socket.write(encodeQuery(text));
  }

  end(): void {
    this.socket.end(encodeTerminate());
  }
}
