import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import ssh2 from 'ssh2';
import type { AuthContext, ClientInfo, Connection, Server } from 'ssh2';
import type { SshConnectionConfig } from '../../config/schema.ts';
import { AirlockError, ErrorCodes, clientMessage } from '../../core/errors.ts';
import type { Identity } from '../../core/identity.ts';
import { checkAccessGrant, checkConnectionAccess } from '../../identity/access.ts';
import type { EngineContext, ProtocolEngine } from '../common/engine.ts';
import { destroySoon, sourceOf, type PreAuth } from '../common/pre-auth.ts';
import { AUTH_METHODS, ClientAuth, parseLoginName, type LoginName } from './auth.ts';
import { connectionBoundary } from './boundary.ts';
import { loadHostKey, type GatewayHostKey } from './host-key.ts';
import { refuseAfterAuth } from './refuse.ts';
import { SshSession } from './session.ts';

/** OpenSSH's default MaxAuthTries. */
const MAX_AUTH_FAILURES = 6;

type Admission =
  | { readonly granted: true; readonly identity: Identity; readonly login: LoginName; readonly connection: SshConnectionConfig }
  | { readonly granted: false; readonly message: string };

type AuthStep = { readonly kind: 'admit'; readonly admission: Admission } | { readonly kind: 'key-ok' } | { readonly kind: 'reject' };

/**
 * SSH adapter. Clients log in as `SUBJECT+CONNECTION` with a registered key or an access token as the
 * password; the gateway then opens the target with the credential it holds and relays channels with
 * policy and recording. The gateway has its own stable host key (`<dataDir>/keys/ssh-host-ed25519`).
 *
 * A proven identity that may not use the connection is still let in, then told why on stderr with exit
 * status 1 (an SSH authentication failure cannot carry a message); see docs/ssh.md.
 */
export class SshEngine implements ProtocolEngine {
  readonly protocol = 'ssh';
  readonly hostKey: GatewayHostKey;
  private readonly server: Server;
  private readonly auth: ClientAuth;
  private readonly sessions = new Set<SshSession>();
  private readonly clients = new Set<Connection>();
  /** Connections not authenticated yet, by the client's `ip port` (ssh2 names a connection only by its ClientInfo). */
  private readonly preAuths = new Map<string, PreAuth>();
  private closing = false;
  private draining: string | undefined;

  constructor(private readonly ctx: EngineContext) {
    this.hostKey = loadHostKey(ctx.dataDir);
    if (!this.hostKey.file) ctx.log.warn('no data dir: the SSH host key is ephemeral and changes on every start');
    else ctx.log.info({ fingerprint: this.hostKey.publicKey.fingerprint, file: `${this.hostKey.file}.pub` }, 'ssh host key');
    this.server = new ssh2.Server({ hostKeys: [this.hostKey.privateKey], ident: 'Airlock' }, (client, info) => this.accept(client, info));
    this.auth = new ClientAuth(ctx.recorder.store, ctx.authenticator, ctx.log);
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /**
   * SSH has no message for a client that takes too long before authenticating: like OpenSSH's LoginGraceTime, the
   * connection is closed at the deadline.
   */
  handle(socket: Socket, preAuth: PreAuth): void {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    if (this.closing) {
      socket.destroy();
      return;
    }
    const key = `${socket.remoteAddress} ${socket.remotePort}`;
    this.preAuths.set(key, preAuth);
    socket.once('close', () => this.preAuths.delete(key));
    preAuth.signal.addEventListener('abort', () => {
      this.ctx.log.info({ client: key, err: (preAuth.signal.reason as Error).message }, 'ssh connection closed before authentication');
      socket.destroy();
    }, { once: true });
    this.server.injectSocket(socket);
  }

  /** Lines before the server's identification string are allowed (RFC 4253 §4.2); OpenSSH then reports the close. */
  refuse(socket: Socket, message: string): void {
    socket.on('error', () => {});
    this.ctx.log.info({ client: `${socket.remoteAddress} ${socket.remotePort}`, reason: message }, 'ssh connection refused before authentication');
    socket.end(`Airlock: ${message}\r\n`);
    socket.resume();
    destroySoon(socket);
  }

  private accept(client: Connection, info: ClientInfo): void {
    const clientAddress = `${info.ip.includes(':') ? `[${info.ip}]` : info.ip}:${info.port}`;
    const software = info.header?.versions?.software ?? null;
    this.clients.add(client);
    let admission: Admission | undefined;
    let failures = 0;
    const guard = connectionBoundary(client, this.ctx.log, clientAddress);
    client.on('error', (err: Error) => this.ctx.log.debug({ client: clientAddress, err: err.message }, 'ssh client error'));
    client.on('close', () => this.clients.delete(client));
    client.on('authentication', (auth: AuthContext) => {
      const step = this.authenticate(auth, clientAddress, sourceOf(info.ip)).then(
        (step) => {
          if (step.kind === 'admit') {
            admission = step.admission;
            return auth.accept();
          }
          // The publickey query step: accept() without a signature answers PK_OK.
          if (step.kind === 'key-ok') return auth.accept();
          if (auth.method !== 'none' && ++failures >= MAX_AUTH_FAILURES) {
            auth.reject();
            client.end();
            return;
          }
          auth.reject([...AUTH_METHODS]);
        },
        (err: Error) => {
          this.ctx.log.warn({ client: clientAddress, err: err.message }, 'ssh authentication error');
          auth.reject([...AUTH_METHODS]);
        },
      );
      guard(step, 'authentication');
    });
    client.on('ready', () => {
      const preAuth = this.preAuths.get(`${info.ip} ${info.port}`);
      if (!admission || preAuth?.signal.aborted) return client.end();
      preAuth?.passed();
      if (!admission.granted) return refuseAfterAuth(client, admission.message, 1, guard);
      if (this.closing || this.draining) return refuseAfterAuth(client, 'the gateway is shutting down', 255, guard);
      const session = new SshSession({
        ctx: this.ctx, client, identity: admission.identity, name: admission.login.connection, connection: admission.connection,
        clientAddress, clientSoftware: software, hostKeys: this.ctx.recorder.store, onEnd: (s) => this.sessions.delete(s),
      });
      this.sessions.add(session);
    });
  }

  /** One authentication request: admit (identity proven), key-ok (publickey query step) or reject. */
  private async authenticate(auth: AuthContext, clientAddress: string, source: string): Promise<AuthStep> {
    if (auth.method === 'none') return { kind: 'reject' };
    // A password, or a signature, is a guess at a secret: those are throttled (a key query is not).
    const subject = parseLoginName(auth.username)?.subject ?? auth.username;
    const guess = auth.method === 'password' || (auth.method === 'publickey' && auth.signature !== undefined);
    const wait = guess ? this.ctx.throttle.delayMs(source, subject) : 0;
    if (wait > 0) await delay(wait);
    const outcome = await this.auth.check(auth, clientAddress);
    if (outcome.result === 'key-ok') return { kind: 'key-ok' };
    if (outcome.result === 'reject') {
      if (guess) this.ctx.throttle.failed(source, subject);
      this.auth.logRefusal(auth, clientAddress, outcome.why);
      return { kind: 'reject' };
    }
    this.ctx.throttle.succeeded(source, subject);
    const { identity, login } = outcome;
    try {
      const known = this.ctx.connection(login.connection);
      // Unknown, not allowed and not SSH all read the same: a message must not tell which names exist.
      const connection = checkConnectionAccess(identity, login.connection, known?.type === 'ssh' ? known : undefined);
      if (connection.type !== 'ssh') throw new AirlockError(ErrorCodes.unknownConnection, 'not an SSH connection');
      await checkAccessGrant(identity, login.connection, connection, this.ctx.reviews?.hasAccess?.bind(this.ctx.reviews));
      this.ctx.log.info({ client: clientAddress, subject: identity.subject, connection: login.connection, method: identity.authMethod }, 'ssh client authenticated');
      return { kind: 'admit', admission: { granted: true, identity, login, connection } };
    } catch (err) {
      const message = clientMessage(err, 'access denied');
      this.ctx.log.info({ client: clientAddress, subject: identity.subject, connection: login.connection, err: message }, 'ssh access refused');
      return { kind: 'admit', admission: { granted: false, message } };
    }
  }

  /** An SSH session ends once none of its session channels is open (its shells and commands have finished). */
  async drain(reason: string): Promise<void> {
    this.draining = reason;
    const all = [...this.sessions];
    for (const s of all) s.endWhenIdle('the gateway is shutting down', reason);
    await Promise.all(all.map((s) => s.closed));
  }

  async close(reason = 'gateway_shutdown'): Promise<void> {
    this.closing = true;
    const all = [...this.sessions];
    for (const s of all) s.terminate('the gateway is shutting down', reason);
    await Promise.all(all.map((s) => s.closed));
    for (const c of this.clients) c.end();
  }
}
