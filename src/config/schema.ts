import { z } from 'zod';

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
  })
  .strict();

const recordingSchema = z
  .object({
    /** Result rows kept per statement (counts are always kept). */
    maxRows: z.number().int().min(0).default(100),
    /** Result bytes kept per statement. */
    maxBytes: z.number().int().min(0).default(64 * 1024),
  })
  .strict();

const baseConnection = {
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  allow: z.array(z.string()).default([]),
  policy: policySchema.default({ deny: [], review: [] }),
  retention: z.string().optional(),
  recording: recordingSchema.optional(),
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
    allowPortForwarding: z.boolean().default(true),
  })
  .strict();

export const connectionSchema = z.discriminatedUnion('type', [postgresConnectionSchema, sshConnectionSchema]);

const oidcIssuer = z
  .object({
    issuer: z.string().url(),
    audience: z.union([z.string(), z.array(z.string())]),
    groupsClaim: z.string().default('groups'),
    subjectClaim: z.string().default('sub'),
    clientId: z.string().optional(),
    clientSecret: z.string().optional(),
  })
  .strict();

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
        oidc: z.array(oidcIssuer).default([]),
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
      .default({ oidc: [], roles: { admin: [], auditor: [], approver: [] } }),
    recording: recordingSchema.default({ maxRows: 100, maxBytes: 64 * 1024 }),
    limits: z
      .object({
        /** Largest protocol frame accepted from either side. */
        maxFrameBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
      })
      .strict()
      .default({ maxFrameBytes: 64 * 1024 * 1024 }),
    connections: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'connection names: letters, digits, . _ -'), connectionSchema).default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type PostgresConnectionConfig = z.infer<typeof postgresConnectionSchema>;
export type SshConnectionConfig = z.infer<typeof sshConnectionSchema>;
export type PolicyConfig = z.infer<typeof policySchema>;
export type RecordingLimits = z.infer<typeof recordingSchema>;
