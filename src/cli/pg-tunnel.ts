import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FrameReader, type Frame } from '../protocols/postgres/codec/frame-reader.ts';
import { StartupReader, type StartupPacket } from '../protocols/postgres/codec/startup.ts';
import { encodeCancelRequest, encodePassword, encodeSslRequest, encodeStartup } from '../protocols/postgres/codec/frontend.ts';
import { decodeAuthentication, encodeErrorResponse } from '../protocols/postgres/codec/backend.ts';
import { HandshakeReader } from '../protocols/postgres/handshake-reader.ts';
import { isLoopbackHost } from '../core/loopback.ts';

export interface TunnelOptions {
  readonly gatewayHost: string;
  readonly gatewayPort: number;
  readonly connection: string;
  readonly subject: string;
  /** Returns the current credential (refreshed login session or token). */
  readonly credential: () => Promise<string>;
  readonly ca?: string;
  readonly onError?: (message: string) => void;
}

/**
 * `airlock connect`: a local PostgreSQL endpoint for unmodified clients. Each local connection is
 * authenticated to the gateway with the logged-in identity, so the person never handles a token; after
 * authentication the bytes are piped unchanged.
 */
export function startPgTunnel(opts: TunnelOptions, listenPort: number, listenHost = '127.0.0.1'): Promise<Server> {
  const server = createServer((local) => {
    local.on('error', () => {});
    handle(local, opts).catch((err: Error) => {
      opts.onError?.(err.message);
      if (!local.destroyed) local.end(encodeErrorResponse({ severity: 'FATAL', code: '08001', message: `airlock connect: ${err.message}` }));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, listenHost, () => resolve(server));
  });
}

async function openGateway(opts: TunnelOptions): Promise<Socket> {
  const raw = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host: opts.gatewayHost, port: opts.gatewayPort }, () => resolve(s));
    s.once('error', reject);
  });
  raw.setNoDelay(true);
  raw.write(encodeSslRequest());
  const answer = await new Promise<number>((resolve, reject) => {
    raw.once('data', (b: Buffer) => resolve(b[0]));
    raw.once('error', reject);
  });
  if (answer !== 0x53) {
    if (!isLoopbackHost(opts.gatewayHost)) throw new Error('the gateway refused TLS');
    return raw;
  }
  const secure = tlsConnect({ socket: raw, servername: /^[\d.]+$|:/.test(opts.gatewayHost) ? undefined : opts.gatewayHost, ca: opts.ca, rejectUnauthorized: !!opts.ca, ...(opts.ca ? {} : { checkServerIdentity: () => undefined }) });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', () => resolve());
    secure.once('error', reject);
  });
  secure.setNoDelay(true);
  return secure;
}

async function handle(local: Socket, opts: TunnelOptions): Promise<void> {
  let packet: StartupPacket;
  let remainder: Buffer;
  for (;;) {
    const reader = new HandshakeReader<StartupPacket>(local, new StartupReader(), 'client');
    packet = await reader.next();
    remainder = reader.detach();
    if (packet.type === 'ssl' || packet.type === 'gssenc') {
      local.write('N'); // the local hop is loopback; the hop to the gateway is TLS
      continue;
    }
    break;
  }
  if (packet.type === 'cancel') {
    const gw = await openGateway(opts);
    gw.end(encodeCancelRequest(packet.pid, packet.secret));
    local.destroy();
    return;
  }
  const params = new Map(packet.params);
  params.set('user', opts.subject);
  params.set('database', opts.connection);
  const gw = await openGateway(opts);
  gw.on('error', () => local.destroy());
  gw.write(encodeStartup(params));
  const reader = new HandshakeReader<Frame>(gw, new FrameReader(64 * 1024 * 1024), 'gateway');
  const first = await reader.next();
  if (first.code !== 0x52 || decodeAuthentication(first.body).type !== 'cleartext') {
    local.end(first.bytes); // an error from the gateway: show it to the client as is
    gw.destroy();
    return;
  }
  gw.write(encodePassword(await opts.credential()));
  const rest = reader.detach();
  if (rest.length) local.write(rest);
  if (remainder.length) gw.write(remainder);
  local.pipe(gw);
  gw.pipe(local);
  local.resume();
  gw.resume();
  // pipe() ends the other side after the last byte; destroy only what was cut off without an end.
  local.on('close', () => gw.writableEnded || gw.destroy());
  gw.on('close', () => local.writableEnded || local.destroy());
}
