import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { AirlockError, ErrorCodes, clientMessage } from '../../core/errors.ts';
import type { Identity } from '../../core/identity.ts';
import { checkAccessGrant, checkConnectionAccess } from '../../identity/access.ts';
import type { SessionRecorder } from '../../recording/recorder.ts';
import type { ValueMasker } from '../../policy/connection-policies.ts';
import type { PostgresConnectionConfig } from '../../config/schema.ts';
import type { EngineContext, ProtocolEngine } from '../common/engine.ts';
import { isLoopback, peerAddress } from '../common/net.ts';
import { destroySoon, sourceOf, type PreAuth } from '../common/pre-auth.ts';
import { clientText } from '../../core/client-text.ts';
import { encodeAuthenticationCleartext, encodeAuthenticationOk, encodeBackendKeyData, encodeErrorResponse } from './codec/backend.ts';
import { FrontendCode } from './codec/codes.ts';
import { FrameReader, type Frame } from './codec/frame-reader.ts';
import { decodePassword } from './codec/frontend.ts';
import { StartupReader, type StartupPacket } from './codec/startup.ts';
import { CancelKeys } from './cancel-keys.ts';
import { fatalFor } from './errors.ts';
import { HandshakeReader } from './handshake-reader.ts';
import { LiveMask } from './live-mask.ts';
import { PgSession } from './session.ts';
import { settingStatement, startupSettings } from './startup-settings.ts';
import { StartupOptionError } from './startup-options.ts';
import { SUPERUSER_WARNING, superuserRefusal } from './superuser.ts';
import { TargetStartupError, connectTarget, type TargetSession } from './target.ts';

interface ClientStartup {
  readonly socket: Socket;
  readonly params: ReadonlyMap<string, string>;
  readonly tls: boolean;
  /** Bytes the client sent after its StartupMessage. */
  readonly remainder: Buffer;
}

/** Startup parameters the gateway consumes itself; everything else reaches the target unchanged. */
const GATEWAY_PARAMS = new Set(['user', 'database']);
/** policy.maxStatementBytes when the connection does not set it. */
const DEFAULT_MAX_STATEMENT_BYTES = 1024 * 1024;
/** Values of the `replication` startup parameter that ask for an ordinary session. */
const NOT_REPLICATION = new Set(['false', 'off', 'no', '0']);
/**
 * Largest message taken before authentication: the PasswordMessage carrying the token. PostgreSQL's own limit
 * for an authentication token (PG_MAX_AUTH_TOKEN_LENGTH); larger lengths are refused from the header, unread.
 */
const MAX_PASSWORD_MESSAGE = 65_535;

/**
 * PostgreSQL adapter. The client authenticates to the gateway with its access token as the password and
 * the connection name as the database; the gateway then opens the target with the credential it holds.
 */
export class PostgresEngine implements ProtocolEngine {
  readonly protocol = 'postgres';
  private readonly sessions = new Set<PgSession>();
  private readonly cancelKeys = new CancelKeys();
  /** Connections whose superuser target has been warned about in the log. */
  private readonly superuserWarned = new Set<string>();
  private draining: string | undefined;

  constructor(private readonly ctx: EngineContext) {}

  get activeSessions(): number {
    return this.sessions.size;
  }

  handle(socket: Socket, preAuth: PreAuth): void {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    // Errors go to the socket the client speaks on now: after an SSLRequest that is the TLS socket.
    const current = { socket };
    this.accept(socket, current, preAuth).catch((err) => {
      this.ctx.log.info({ client: peerAddress(socket), err: clientMessage(err, (err as Error).message) }, 'postgres connection refused');
      if (!current.socket.destroyed) current.socket.end(fatalFor(err));
      // Read no more of what it still sends (an oversized message, refused from its header).
      socket.pause();
      destroySoon(current.socket);
    });
  }

  /** SQLSTATE 53300 too_many_connections, sent before the client's first packet is read (libpq reports it). */
  refuse(socket: Socket, message: string): void {
    socket.on('error', () => {});
    this.ctx.log.info({ client: peerAddress(socket), reason: message }, 'postgres connection refused before authentication');
    socket.end(encodeErrorResponse({ severity: 'FATAL', code: '53300', message: `Airlock: ${message}` }));
    socket.resume();
    destroySoon(socket);
  }

  private async accept(raw: Socket, current: { socket: Socket }, preAuth: PreAuth): Promise<void> {
    const startup = await this.readStartup(raw, current, preAuth.signal);
    if (!startup) return;
    const { socket, params } = startup;
    const clientAddress = peerAddress(raw);
    const user = params.get('user') ?? '';
    const database = params.get('database') || user;
    if (!startup.tls && !isLoopback(raw.remoteAddress)) {
      throw new AirlockError(ErrorCodes.tlsRequired, 'Airlock requires TLS for clients that are not on the gateway host; connect with sslmode=require', { expose: true });
    }
    // A replication connection streams the cluster's data files or its whole change stream (BASE_BACKUP,
    // START_REPLICATION): nothing a statement policy can judge, so it is not relayed at all.
    if (!NOT_REPLICATION.has((params.get('replication') ?? 'false').toLowerCase())) {
      throw new AirlockError(ErrorCodes.forbidden, `Airlock does not relay replication connections (replication=${clientText(params.get('replication') ?? '')})`, { expose: true });
    }

    // Authentication: cleartext password over TLS or loopback carries the access token.
    const frames = new FrameReader(Math.min(MAX_PASSWORD_MESSAGE + 1, this.ctx.config.limits.maxFrameBytes));
    if (startup.remainder.length) frames.push(startup.remainder);
    const reader = new HandshakeReader<Frame>(socket, frames, 'client', preAuth.signal);
    socket.write(encodeAuthenticationCleartext());
    const pw = await reader.next();
    if (pw.code !== FrontendCode.Password) throw new AirlockError(ErrorCodes.protocol, 'expected a password message', { expose: true });
    const token = decodePassword(pw.body);
    // A token is a guess at a secret: after repeated failures from this source or for this user, the answer
    // waits (a timer, within the pre-auth deadline: the wait cannot hold a connection longer than that).
    const source = sourceOf(raw.remoteAddress);
    const wait = this.ctx.throttle.delayMs(source, user);
    if (wait > 0) await preAuth.race(delay(wait, undefined, { signal: preAuth.signal }));
    let identity: Identity;
    try {
      identity = await preAuth.race(this.ctx.authenticator.authenticate(token, { protocol: 'postgres', clientAddress }));
    } catch (err) {
      if (preAuth.signal.aborted) throw err;
      this.ctx.throttle.failed(source, user);
      throw new AirlockError(ErrorCodes.authFailed, `password authentication failed for user "${clientText(user)}": ${clientMessage(err, 'invalid token')}`, { cause: err, expose: true });
    }
    if (identity.subject !== user) {
      this.ctx.throttle.failed(source, user);
      throw new AirlockError(ErrorCodes.authFailed, `password authentication failed for user "${clientText(user)}": the token belongs to another identity`, { expose: true });
    }
    this.ctx.throttle.succeeded(source, user);
    preAuth.passed();
    if (this.draining) throw new AirlockError(ErrorCodes.target, 'the gateway is shutting down; connect again shortly', { expose: true });
    const connection = checkConnectionAccess(identity, database, this.ctx.connection(database));
    if (connection.type !== 'postgres') {
      throw new AirlockError(ErrorCodes.unknownConnection, `connection "${clientText(database)}" is not a PostgreSQL connection`, { expose: true });
    }
    await checkAccessGrant(identity, database, connection, this.ctx.reviews?.hasAccess?.bind(this.ctx.reviews));

    const targetParams = new Map([...params].filter(([k]) => !GATEWAY_PARAMS.has(k)));
    const rec = await this.ctx.recorder.open({
      protocol: 'postgres', connection: database, identity, clientAddress, application: params.get('application_name') ?? null,
    });
    if (this.refuseStartupSetting(socket, params, identity, database, rec)) return;
    let target: TargetSession;
    try {
      target = await connectTarget(connection, targetParams, this.ctx.config.limits.maxFrameBytes);
    } catch (err) {
      const fields = err instanceof TargetStartupError ? err.fields : undefined;
      rec.record('session.target_failed', { message: clientMessage(err, 'target connection failed'), code: fields?.C ?? null });
      void rec.end('target_unavailable').catch(() => {});
      if (fields) {
        socket.end(encodeErrorResponse({ severity: 'FATAL', code: fields.C ?? '08001', message: `Airlock: target refused the session: ${fields.M ?? ''}` }));
        return;
      }
      throw err;
    }
    if (this.refuseSuperuser(socket, target, connection, database, rec)) return;

    const key = this.cancelKeys.issue({
      targetHost: connection.host, targetPort: connection.port,
      targetPid: target.backendKey?.pid ?? 0, targetSecret: target.backendKey?.secret ?? 0, sessionId: rec.id,
    });
    const sessionKey = randomBytes(32);
    const liveMasker = this.ctx.policies.get(database).liveMasker(identity, sessionKey);
    // Settings and notices at startup can carry data too (a role's default application_name set from a value).
    const live = liveMasker?.active ? new LiveMask(liveMasker, {}) : undefined;
    const shown = (f: Frame): Buffer => (live ? (live.frame(f, f.bytes) ?? Buffer.alloc(0)) : f.bytes);
    const hello = [encodeAuthenticationOk(), ...target.parameterFrames.map(shown), ...target.noticeFrames.map(shown), encodeBackendKeyData(key.pid, key.secret), target.readyFrame.bytes];
    socket.write(Buffer.concat(hello));
    const clientRemainder = reader.detach();
    this.startSession(socket, target, identity, database, rec, clientRemainder, key.pid, sessionKey, liveMasker);
  }

  /**
   * Puts the settings the client asked for at startup (`options=-c role=…`, a `search_path` parameter) to the
   * connection's policy as the SET statements they stand for: otherwise they would change the session, `role`
   * included, without the policy seeing them. A denied one (or one a rule would hold for review, which cannot wait
   * at startup) is recorded and ends the session with a FATAL error before the target is reached.
   */
  private refuseStartupSetting(socket: Socket, params: ReadonlyMap<string, string>, identity: Identity, connectionName: string, rec: SessionRecorder): boolean {
    const { policy, storedMasker } = this.ctx.policies.get(connectionName);
    const refuse = (text: string, what: string, rule: string, reason: string): true => {
      const masked = storedMasker(randomBytes(32)).maskText(text);
      rec.record('policy.deny', { text: masked, rule, reason, startup: true }, { searchText: masked, outcome: 'denied' });
      void rec.end('startup_setting_denied').catch(() => {});
      socket.end(encodeErrorResponse({ severity: 'FATAL', code: '42501', message: `Airlock: ${clientText(what)} refused: ${reason}`, detail: `rule: ${rule}` }));
      return true;
    };
    let settings;
    try {
      settings = startupSettings(params);
    } catch (err) {
      if (!(err instanceof StartupOptionError)) throw err;
      return refuse(`options=${params.get('options') ?? ''}`, 'startup options', 'startup-options', clientText(err.message, 160));
    }
    for (const setting of settings) {
      const text = settingStatement(setting);
      const d = policy.decide({ protocol: 'postgres', kind: 'query', text }, identity);
      if (d.action === 'allow') continue;
      const reason = d.action === 'deny' ? d.reason : `${d.reason}; a startup setting cannot wait for a review: SET it once connected`;
      return refuse(text, `startup setting ${setting.name}`, d.rule, reason);
    }
    return false;
  }

  /**
   * A superuser target is refused unless the connection allows it (see superuser.ts); when it does, the log says so
   * loudly, once per connection.
   */
  private refuseSuperuser(socket: Socket, target: TargetSession, connection: PostgresConnectionConfig, name: string, rec: SessionRecorder): boolean {
    const refusal = superuserRefusal(target.parameterFrames);
    if (!refusal) return false;
    if (connection.allowSuperuser) {
      if (!this.superuserWarned.has(name)) {
        this.superuserWarned.add(name);
        this.ctx.log.warn({ connection: name, targetUser: connection.user }, SUPERUSER_WARNING);
      }
      return false;
    }
    target.socket.destroy();
    rec.record('session.target_failed', { message: `refused: ${refusal}`, code: '42501' });
    void rec.end('superuser_target').catch(() => {});
    socket.end(encodeErrorResponse({ severity: 'FATAL', code: '42501', message: `Airlock: session refused: ${refusal}` }));
    return true;
  }

  private startSession(
    socket: Socket, target: TargetSession, identity: Identity, connectionName: string, rec: SessionRecorder, clientRemainder: Buffer, cancelPid: number,
    sessionKey: Buffer, liveMask: ValueMasker | undefined,
  ): void {
    const compiled = this.ctx.policies.get(connectionName);
    const connection = this.ctx.connection(connectionName);
    const session = new PgSession({
      client: socket, target: target.socket, identity, connection: connectionName, rec,
      policy: compiled.policy,
      storedMask: compiled.storedMasker(sessionKey),
      liveMask,
      reviews: this.ctx.reviews,
      limits: connection?.recording ?? this.ctx.config.recording,
      maxFrameBytes: this.ctx.config.limits.maxFrameBytes,
      maxStatementBytes: connection?.type === 'postgres' ? (connection.policy.maxStatementBytes ?? DEFAULT_MAX_STATEMENT_BYTES) : DEFAULT_MAX_STATEMENT_BYTES,
      targetParameters: target.parameterFrames,
      allowSuperuser: connection?.type === 'postgres' && connection.allowSuperuser,
      log: this.ctx.log,
      clientRemainder,
      targetRemainder: target.remainder,
      onEnd: (s) => {
        this.sessions.delete(s);
        this.cancelKeys.release(cancelPid);
        unregister();
      },
    });
    this.sessions.add(session);
    const unregister = this.ctx.live.add({ id: rec.id, protocol: 'postgres', identity, terminate: (message, reason) => session.terminate(`Airlock: ${message}`, reason) });
    session.start();
    if (this.draining) session.endWhenIdle('Airlock: the gateway is shutting down', this.draining);
  }

  /** Reads SSLRequest / GSSENCRequest / CancelRequest until the StartupMessage; upgrades to TLS on request. */
  private async readStartup(raw: Socket, current: { socket: Socket }, deadline: AbortSignal): Promise<ClientStartup | undefined> {
    let socket: Socket = raw;
    let tls = false;
    for (;;) {
      const reader = new HandshakeReader<StartupPacket>(socket, new StartupReader(), 'client', deadline);
      const packet = await reader.next();
      if (packet.type === 'startup') {
        const remainder = reader.detach();
        if (packet.protocol >> 16 !== 3) {
          throw new AirlockError(ErrorCodes.protocol, `unsupported frontend protocol ${packet.protocol >> 16}.${packet.protocol & 0xffff}`, { expose: true });
        }
        return { socket, params: packet.params, tls, remainder };
      }
      const remainder = reader.detach();
      if (packet.type === 'cancel') {
        const entry = await this.cancelKeys.cancel(packet.pid, packet.secret);
        this.ctx.log.info({ session: entry?.sessionId ?? null }, entry ? 'forwarded cancel request' : 'ignored unknown cancel request');
        socket.destroy();
        return undefined;
      }
      if (remainder.length) throw new AirlockError(ErrorCodes.protocol, 'unexpected data after encryption request', { expose: true });
      if (packet.type === 'gssenc' || tls) {
        socket.write('N');
        continue;
      }
      socket.write('S');
      const secure = new TLSSocket(socket, { isServer: true, secureContext: this.ctx.serverTls });
      secure.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        // Past the deadline mid-handshake no PostgreSQL error can be sent: the connection is just closed.
        const onDeadline = () => {
          reject(deadline.reason);
          secure.destroy();
          raw.destroy();
        };
        if (deadline.aborted) return onDeadline();
        deadline.addEventListener('abort', onDeadline, { once: true });
        const settle = () => deadline.removeEventListener('abort', onDeadline);
        secure.once('secure', () => (settle(), resolve()));
        secure.once('error', (err) => (settle(), reject(new AirlockError(ErrorCodes.protocol, `TLS handshake failed: ${err.message}`, { cause: err }))));
        secure.once('close', () => (settle(), reject(new AirlockError(ErrorCodes.protocol, 'client closed during TLS handshake'))));
      });
      socket = secure;
      current.socket = secure;
      tls = true;
    }
  }

  async drain(reason: string): Promise<void> {
    this.draining = reason;
    const all = [...this.sessions];
    for (const s of all) s.endWhenIdle('Airlock: the gateway is shutting down', reason);
    await Promise.all(all.map((s) => s.closed));
  }

  async close(reason = 'gateway_shutdown'): Promise<void> {
    this.draining ??= reason;
    const all = [...this.sessions];
    for (const s of all) s.terminate('Airlock: the gateway is shutting down', reason);
    await Promise.all(all.map((s) => s.closed));
  }
}
