import { z } from 'zod';
import { webUrl } from './urls.ts';
import { forensicsSchema } from '../recording/forensics-config.ts';
import { samlSchema } from '../identity/saml/config.ts';

/** `host:port`; a bare port means 127.0.0.1. */
const listenAddress = z.string().regex(/^(?:\[[0-9a-fA-F:]+\]|[^:\s]+:)?\d{1,5}$|^[^:\s]+:\d{1,5}$/, 'expected host:port');

const tlsClient = z
  .object({
    /** disable: plain TCP; require: TLS without verification; verify-full: CA + host name checked. */
    mode: z.enum(['disable', 'prefer', 'require', 'verify-full']).default('disable'),
    ca: z.string().optional(),
    serverName: z.string().optional(),
  })
  .strict();

const statementRule = z
  .object({
    name: z.string().min(1),
    statements: z.array(z.string()).optional(),
    tables: z.array(z.string()).optional(),
    commands: z.array(z.string()).optional(),
    patterns: z.array(z.string()).optional(),
    groups: z.array(z.string()).optional(),
    kinds: z.array(z.enum(['user', 'service'])).optional(),
    approvers: z.array(z.string()).optional(),
    onUnknown: z.enum(['deny', 'review', 'allow']).optional(),
  })
  .strict();

export const policySchema = z
  .object({
    mask: z
      .object({
        stored: z.array(z.string()).default([]),
        live: z.object({ groups: z.array(z.string()).default([]) }).strict().optional(),
        columns: z.array(z.string()).optional(),
        strategy: z.enum(['redact', 'partial', 'hash']).optional(),
      })
      .strict()
      .optional(),
    deny: z.array(statementRule).default([]),
    review: z.array(statementRule).default([]),
    /** Statements (a Query or Parse text) longer than this are refused before they are classified or forwarded (default 1 MiB). */
    maxStatementBytes: z.number().int().min(1024).optional(),
    /**
     * Allow-list mode: PostgreSQL, only statements whose kind and effects are all listed pass; SSH, only commands
     * matching one of the listed globs run (see policy/allow-list.ts).
     */
    allow: z.array(z.string()).optional(),
    /** What the allow list does not cover: denied (default) or held for review by `approvers`. */
    otherwise: z.enum(['deny', 'review']).optional(),
    approvers: z.array(z.string()).optional(),
  })
  .strict();

const recordingSchema = z
  .object({
    /** Result rows kept per statement (counts are always kept). */
    maxRows: z.number().int().min(0).default(100),
    /** Result bytes kept per statement. */
    maxBytes: z.number().int().min(0).default(64 * 1024),
    /**
     * Also full-text index terminal output (SSH stdout/stderr/stdin). Commands are always indexed; output
     * indexing keeps a plain copy of every byte beside the compressed recording, plus its index.
     */
    indexOutput: z.boolean().default(false),
    /**
     * When a statement's end reaches the client. `durable`: every message that tells a client a statement ended
     * (CommandComplete, ErrorResponse, ReadyForQuery, …) waits until every event the session recorded up to it is
     * committed to the store, so a statement the client saw end is in the recording even after the gateway is
     * killed. `async`: sent at once; events reach the store a few milliseconds later.
     */
    ack: z.enum(['durable', 'async']).default('durable'),
  })
  .strict();

const accessSchema = z
  .object({
    /** Sessions need an approved access request (`airlock access request NAME --for 1h`). */
    requireRequest: z.boolean().default(false),
    approvers: z.array(z.string()).default([]),
    maxDuration: z.string().default('8h'),
  })
  .strict();

const webhookSchema = z
  .object({
    url: z.string().url(),
    /** HMAC-SHA256 key for the X-Airlock-Signature header. */
    secret: z.string().min(16).optional(),
    format: z.enum(['json', 'slack']).default('json'),
  })
  .strict();

export const reviewsSchema = z
  .object({
    /** Unanswered requests expire (as denied) after this long. */
    timeout: z.string().default('10m'),
    webhooks: z.array(webhookSchema).default([]),
  })
  .strict();

const baseConnection = {
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  allow: z.array(z.string()).default([]),
  policy: policySchema.default({ deny: [], review: [] }),
  retention: z.string().optional(),
  recording: recordingSchema.optional(),
  access: accessSchema.optional(),
};

export const postgresConnectionSchema = z
  .object({
    type: z.literal('postgres'),
    ...baseConnection,
    port: baseConnection.port.default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    password: z.string().optional(),
    tls: tlsClient.default({ mode: 'disable' }),
    /** Relay sessions whose target role is a superuser (statement rules cannot contain one; see README). */
    allowSuperuser: z.boolean().default(false),
  })
  .strict();

export const sshConnectionSchema = z
  .object({
    type: z.literal('ssh'),
    ...baseConnection,
    port: baseConnection.port.default(22),
    user: z.string().min(1),
    password: z.string().optional(),
    privateKey: z.string().optional(),
    hostKey: z.string().optional(),
    /** Environment variables a client may pass to the target (`SendEnv`); the rest are refused. */
    env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')).default(['TERM', 'LANG']),
    /** Open channels one client connection may have: shells/exec/sftp, and port forwards. */
    channels: z
      .object({ sessions: z.number().int().min(1).default(10), forwards: z.number().int().min(0).default(20) })
      .strict()
      .default({ sessions: 10, forwards: 20 }),
    /** `ssh -L` through this connection: off unless enabled (a forward can reach other targets around their policy). */
    allowPortForwarding: z.boolean().default(false),
    /** A forward whose destination answers as an SSH server (`SSH-` first) is cut off unless this is true. */
    allowSshHops: z.boolean().default(false),
  })
  .strict();

export const connectionSchema = z.discriminatedUnion('type', [postgresConnectionSchema, sshConnectionSchema]);

const idpUrl = (what: string) => webUrl(what);

const durationText = z.string().regex(/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/, 'expected a duration such as 30s, 5m, 1h');
/** Exact value or glob (`*` matches anything, `/` included); a list means any of them. */
const claimMatch = z.union([z.string(), z.array(z.string()).min(1)]);

const oidcIssuer = z
  .object({
    issuer: idpUrl('issuer'),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    groupsClaim: z.string().default('groups'),
    subjectClaim: z.string().default('sub'),
    clientId: z.string().optional(),
    clientSecret: z.string().optional(),
    /** Scopes asked for when people log in (browser or `airlock login`); default openid profile email. */
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is one token without spaces or quotes')).min(1).optional(),
    /** RFC 8707 resource indicator sent by `airlock login`, so the provider issues a JWT access token for the gateway. */
    resource: z.string().min(1).optional(),
    /** Accepted JWS algorithms: asymmetric only (never `none`, never HS*). Default RS256 RS384 RS512 PS256 ES256 ES384 EdDSA Ed25519. */
    algorithms: z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'])).min(1).optional(),
    /** Tolerance for exp/nbf (default 30s, at most 5m). */
    clockSkew: durationText.optional(),
    /** Skip discovery for keys: fetch the JWKS from here. */
    jwksUri: idpUrl('jwksUri').optional(),
    /** Least time between two key-set refetches caused by an unknown `kid` (default 30s). */
    jwksCooldown: durationText.optional(),
    /** `auto` (default) infers service vs user from the token; `user`/`service` fixes it for this issuer. */
    kind: z.enum(['auto', 'user', 'service']).default('auto'),
    /** Tokens whose claims all match are `service` identities, e.g. `{ runner_environment: '*' }`. */
    serviceWhen: z.record(z.string(), claimMatch).optional(),
    /** Every listed claim must be present and match, e.g. `{ repository: 'org/*', ref: 'refs/heads/main' }`. */
    requireClaims: z.record(z.string(), claimMatch).optional(),
    /** RFC 7662 introspection for opaque tokens (client credentials default to clientId/clientSecret above). */
    introspection: z
      .object({
        clientId: z.string().min(1).optional(),
        clientSecret: z.string().min(1).optional(),
        /** Overrides the discovered `introspection_endpoint`. */
        endpoint: idpUrl('introspection.endpoint').optional(),
        /** How long an answer is reused (default 30s; 0s disables the cache). */
        cacheTtl: durationText.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((o) => !o.introspection || Boolean((o.introspection.clientId ?? o.clientId) && (o.introspection.clientSecret ?? o.clientSecret)), {
    message: 'introspection needs clientId and clientSecret (in introspection: or on the issuer)',
    path: ['introspection'],
  });

const oidcIssuers = z.array(oidcIssuer).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((o, i) => {
    if (seen.has(o.issuer)) ctx.addIssue({ code: 'custom', path: [i, 'issuer'], message: `issuer ${o.issuer} is listed more than once` });
    seen.add(o.issuer);
  });
});

export const configSchema = z
  .object({
    listen: z
      .object({
        api: listenAddress.optional(),
        postgres: listenAddress.optional(),
        mysql: listenAddress.optional(),
        ssh: listenAddress.optional(),
      })
      .strict()
      .default({ api: '127.0.0.1:8080', postgres: '127.0.0.1:15432' }),
    dataDir: z.string().default('.airlock'),
    tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
    identity: z
      .object({
        oidc: oidcIssuers.default([]),
        /** Which issuer people log in with (default: the first one with a clientId), see identity/oidc/README.md. */
        login: z
          .object({
            issuer: idpUrl('identity.login.issuer'),
            /** Confidential client of the browser login (default: the issuer's clientId / clientSecret). */
            clientId: z.string().min(1).optional(),
            clientSecret: z.string().min(1).optional(),
            /** The browser login's callback as registered at the provider (default: derived from the request). */
            redirectUri: z.string().url().optional(),
            /** Public client (PKCE, loopback redirect, device flow) that `airlock login` uses (default: clientId). */
            cliClientId: z.string().min(1).optional(),
          })
          .strict()
          .optional(),
        /** SAML 2.0 web login (Airlock as Service Provider); see src/identity/saml/config.ts. */
        saml: samlSchema.optional(),
        /**
         * Longest lifetime a gateway token may be issued with (CLI, API, browser sessions): the smallest limit of
         * the token's groups and roles listed here, else `default`; none: unlimited.
         */
        maxTokenTtl: z
          .object({
            default: durationText.optional(),
            groups: z.record(z.string(), durationText).default({}),
            roles: z.object({ admin: durationText.optional(), auditor: durationText.optional(), approver: durationText.optional() }).strict().default({}),
          })
          .strict()
          .optional(),
        roles: z
          .object({
            admin: z.array(z.string()).default([]),
            auditor: z.array(z.string()).default([]),
            approver: z.array(z.string()).default([]),
          })
          .strict()
          .default({ admin: [], auditor: [], approver: [] }),
      })
      .strict()
      .refine((i) => !i.login || i.oidc.some((o) => o.issuer === i.login!.issuer), {
        message: 'identity.login.issuer must be one of the issuers listed in identity.oidc',
        path: ['login', 'issuer'],
      })
      .default({ oidc: [], roles: { admin: [], auditor: [], approver: [] } }),
    recording: recordingSchema.default({ maxRows: 100, maxBytes: 64 * 1024, indexOutput: false, ack: 'durable' }),
    reviews: reviewsSchema.default({ timeout: '10m', webhooks: [] }),
    forensics: forensicsSchema.default({ checkpointInterval: '10m', retentionInterval: '1h', compactAfter: '10m' }),
    /** Bearer token a Prometheus scraper presents for GET /metrics (admins may scrape with their own token too). */
    metrics: z.object({ token: z.string().min(16, 'metrics.token: at least 16 characters') }).strict().optional(),
    limits: z
      .object({
        /** Largest protocol frame accepted from either side. */
        maxFrameBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
        /** Time a client has from connecting to being authenticated (TLS handshake and startup included). */
        preAuthTimeout: durationText.default('10s'),
        /** Connections not authenticated yet, per client address (IPv6: per /64) and in all. */
        maxPreAuthPerSource: z.number().int().min(1).default(32),
        maxPreAuth: z.number().int().min(1).default(512),
        /** Failed logins (per client address, and per subject) answered at once; each further one waits first. */
        failedLoginsBeforeDelay: z.number().int().min(1).default(5),
        /** On SIGTERM: how long open statements may run before the remaining sessions are ended. */
        drainTimeout: durationText.default('30s'),
      })
      .strict()
      .default({ maxFrameBytes: 64 * 1024 * 1024, preAuthTimeout: '10s', maxPreAuthPerSource: 32, maxPreAuth: 512, failedLoginsBeforeDelay: 5, drainTimeout: '30s' }),
    connections: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'connection names: letters, digits, . _ -'), connectionSchema).default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type PostgresConnectionConfig = z.infer<typeof postgresConnectionSchema>;
export type SshConnectionConfig = z.infer<typeof sshConnectionSchema>;
export type PolicyConfig = z.infer<typeof policySchema>;
export type RecordingLimits = z.infer<typeof recordingSchema>;
export type OidcIssuerConfig = z.infer<typeof oidcIssuer>;
export type ReviewsConfig = z.infer<typeof reviewsSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
