import { connect as netConnect, type Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { PostgresConnectionConfig } from '../../config/schema.ts';
import { AirlockError, ErrorCodes } from '../../core/errors.ts';
import { BackendCode } from './codec/codes.ts';
import { decodeAuthentication, decodeBackendKeyData, decodeErrorFields } from './codec/backend.ts';
import { FrameReader, type Frame } from './codec/frame-reader.ts';
import { encodePassword, encodeSaslInitialResponse, encodeSaslResponse, encodeSslRequest, encodeStartup } from './codec/frontend.ts';
import { ScramClient, md5Password } from './codec/scram.ts';
import { isLoopback } from '../common/net.ts';
import { HandshakeReader } from './handshake-reader.ts';

export interface TargetSession {
  readonly socket: Socket;
  /** ParameterStatus frames (raw) the target sent after authentication, in order. */
  readonly parameterFrames: Frame[];
  readonly backendKey: { pid: number; secret: number } | undefined;
  /** Bytes received after the first ReadyForQuery (normally empty). */
  readonly remainder: Buffer;
  /** The raw ReadyForQuery frame ending the startup. */
  readonly readyFrame: Frame;
  /** Notices sent during startup, raw. */
  readonly noticeFrames: Frame[];
}

/** An error the target sent during startup (bad credentials, unknown database…), with its fields. */
export class TargetStartupError extends AirlockError {
  constructor(readonly fields: Record<string, string>) {
    super(ErrorCodes.target, `target refused the session: ${fields.M ?? 'unknown error'}`, { expose: true });
  }
}

function connectTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new AirlockError(ErrorCodes.target, `target ${host}:${port} did not answer in time`, { expose: true }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new AirlockError(ErrorCodes.target, `cannot reach target ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err, expose: true }));
    });
  });
}

async function negotiateTls(socket: Socket, cfg: PostgresConnectionConfig): Promise<Socket> {
  const mode = cfg.tls.mode;
  if (mode === 'disable') return socket;
  socket.write(encodeSslRequest());
  const answer = await new Promise<number>((resolve, reject) => {
    socket.once('data', (b: Buffer) => (b.length === 1 ? resolve(b[0]) : reject(new AirlockError(ErrorCodes.target, 'target sent unexpected bytes after SSLRequest', { expose: true }))));
    socket.once('error', reject);
  });
  if (answer !== 0x53 /* S */) {
    if (mode === 'prefer') return socket;
    throw new AirlockError(ErrorCodes.target, 'target does not support TLS but the connection requires it', { expose: true });
  }
  const verify = mode === 'verify-full';
  const secure = tlsConnect({
    socket,
    servername: cfg.tls.serverName ?? (/^[\d.]+$|:/.test(cfg.host) ? undefined : cfg.host),
    ca: cfg.tls.ca ? (cfg.tls.ca.includes('-----BEGIN') ? cfg.tls.ca : readFileSync(cfg.tls.ca)) : undefined,
    rejectUnauthorized: verify,
    ...(verify ? {} : { checkServerIdentity: () => undefined }),
  });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', () => resolve());
    secure.once('error', (err) => reject(new AirlockError(ErrorCodes.target, `TLS to target failed: ${err.message}`, { cause: err, expose: true })));
  });
  secure.setNoDelay(true);
  return secure;
}

/**
 * Opens an authenticated session on the target with the gateway-held credential. `params` are the
 * client's startup parameters (user and database are replaced by the connection's).
 */
export async function connectTarget(
  cfg: PostgresConnectionConfig,
  params: ReadonlyMap<string, string>,
  maxFrameBytes: number,
  timeoutMs = 15_000,
): Promise<TargetSession> {
  let socket = await connectTcp(cfg.host, cfg.port, timeoutMs);
  try {
    socket = await negotiateTls(socket, cfg);
    const startup = new Map(params);
    startup.set('user', cfg.user);
    startup.set('database', cfg.database);
    socket.write(encodeStartup(startup));
    const reader = new HandshakeReader<Frame>(socket, new FrameReader(maxFrameBytes), 'target');
    const parameterFrames: Frame[] = [];
    const noticeFrames: Frame[] = [];
    let backendKey: TargetSession['backendKey'];
    let scram: ScramClient | undefined;
    for (;;) {
      const frame = await reader.next(timeoutMs);
      switch (frame.code) {
        case BackendCode.Authentication: {
          const auth = decodeAuthentication(frame.body);
          const password = cfg.password ?? '';
          if (auth.type === 'ok') {
            // SCRAM authenticates both ways: a server that says OK without its signature has not shown it is the target.
            if (scram && !scram.verified) throw new AirlockError(ErrorCodes.target, 'the target ended SCRAM authentication without proving its identity', { expose: true });
            break;
          }
          if (auth.type === 'cleartext') {
            // Anyone who can answer for the target's address could ask: the held password goes in clear only over
            // TLS or to this host.
            if (!(socket instanceof TLSSocket) && !isLoopback(socket.remoteAddress)) {
              throw new AirlockError(ErrorCodes.target, 'the target asks for the password in clear over an unencrypted connection; set tls.mode to require or verify-full for this connection', { expose: true });
            }
            socket.write(encodePassword(password));
          } else if (auth.type === 'md5') socket.write(encodePassword(md5Password(cfg.user, password, auth.salt)));
          else if (auth.type === 'sasl') {
            if (!auth.mechanisms.includes('SCRAM-SHA-256')) throw new AirlockError(ErrorCodes.target, `target offers no supported SASL mechanism (${auth.mechanisms.join(', ')})`, { expose: true });
            scram = new ScramClient(password);
            socket.write(encodeSaslInitialResponse('SCRAM-SHA-256', Buffer.from(scram.clientFirstMessage())));
          } else if (auth.type === 'saslContinue' && scram) {
            socket.write(encodeSaslResponse(Buffer.from(scram.handleServerFirst(auth.data.toString('utf8')))));
          } else if (auth.type === 'saslFinal' && scram) {
            scram.verifyServerFinal(auth.data.toString('utf8'));
          } else {
            throw new AirlockError(ErrorCodes.target, `target asks for an unsupported authentication method (${auth.type})`, { expose: true });
          }
          break;
        }
        case BackendCode.ParameterStatus:
          parameterFrames.push(copyFrame(frame));
          break;
        case BackendCode.BackendKeyData:
          backendKey = decodeBackendKeyData(frame.body);
          break;
        case BackendCode.NoticeResponse:
          noticeFrames.push(copyFrame(frame));
          break;
        case BackendCode.NegotiateProtocolVersion:
          break;
        case BackendCode.ErrorResponse:
          throw new TargetStartupError(decodeErrorFields(frame.body));
        case BackendCode.ReadyForQuery: {
          const remainder = reader.detach();
          return { socket, parameterFrames, noticeFrames, backendKey, remainder, readyFrame: copyFrame(frame) };
        }
        default:
          throw new AirlockError(ErrorCodes.target, `unexpected message '${String.fromCharCode(frame.code)}' from target during startup`, { expose: true });
      }
    }
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function copyFrame(f: Frame): Frame {
  const bytes = Buffer.from(f.bytes);
  return { code: f.code, bytes, body: bytes.subarray(5) };
}
