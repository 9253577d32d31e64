/**
 * JSON Schemas shared by the routes: request parts are validated by fastify (ajv), so bad input is a 400 with
 * the reason; response schemas (`returns`) are for the OpenAPI document only, never used to serialise (a
 * schema that lags the code must not silently drop fields).
 */

/** An id as the gateway makes them (`ses_…`, `rev_…`, `tok_…`): letters, digits, `_` and `-`. */
export const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' } },
} as const;

/** Durations (`30m`, `8h`) or instants (ISO 8601, epoch ms); parsed with parseInstant for the reason. */
export const timeText = { type: 'string', minLength: 1, maxLength: 40 } as const;
export const durationText = { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h|d|w))+$', maxLength: 20 } as const;

export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

export const sessionSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, protocol: { type: 'string' }, connection: { type: 'string' }, subject: { type: 'string' },
    groups: { type: 'array', items: { type: 'string' } }, kind: { enum: ['user', 'service'] }, authMethod: { type: 'string' },
    credentialId: { type: ['string', 'null'] }, clientAddress: { type: 'string' }, application: { type: ['string', 'null'] },
    startedAt: { type: 'number' }, endedAt: { type: ['number', 'null'] }, endReason: { type: ['string', 'null'] },
    bytesIn: { type: 'integer' }, bytesOut: { type: 'integer' }, eventCount: { type: 'integer' },
    lastHash: { type: ['string', 'null'] }, legalHold: { type: 'boolean' },
  },
} as const;

export const eventSchema = {
  type: 'object',
  description: 'One recorded event; `data` is what the protocol adapter recorded for `type` (db.query, ssh.output …).',
  properties: {
    sessionId: { type: 'string' }, seq: { type: 'integer' }, time: { type: 'number' }, type: { type: 'string' },
    data: { type: 'object' }, hash: { type: 'string' }, outcome: { type: ['string', 'null'] },
  },
} as const;

export const searchHitSchema = {
  type: 'object',
  properties: {
    sessionId: { type: 'string' }, seq: { type: 'integer' }, time: { type: 'number' }, type: { type: 'string' },
    snippet: { type: 'string' }, subject: { type: 'string' }, connection: { type: 'string' },
  },
} as const;

export const reviewSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, kind: { enum: ['command', 'access'] }, sessionId: { type: ['string', 'null'] }, connection: { type: 'string' },
    requester: { type: 'string' }, requesterKind: { enum: ['user', 'service'] }, text: { type: 'string' },
    /** `text` with control and invisible characters shown as notation (`\e`, `^U`, `\u{202e}`): what to display. */
    visibleText: { type: 'string' }, rule: { type: 'string' },
    approvers: { type: 'array', items: { type: 'string' } }, status: { enum: ['pending', 'approved', 'denied', 'expired'] },
    createdAt: { type: 'string', format: 'date-time' }, expiresAt: { type: 'string', format: 'date-time' },
    decidedAt: { type: ['string', 'null'] }, reviewer: { type: ['string', 'null'] }, reason: { type: ['string', 'null'] },
    validUntil: { type: ['string', 'null'] },
  },
} as const;

export const identitySchema = {
  type: 'object',
  properties: {
    subject: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } }, kind: { enum: ['user', 'service'] },
    authMethod: { type: 'string' }, roles: { type: 'array', items: { enum: ['user', 'approver', 'auditor', 'admin'] } },
    credentialId: { type: 'string', description: 'The credential presented (token id, key fingerprint, jti:…), never its secret' },
    expiresAt: { type: 'number', description: 'When that credential stops being valid, where it says' },
  },
} as const;

export const eventStreamDoc = { 'text/event-stream': { schema: { type: 'string', description: 'Server-Sent Events' } } } as const;

export function object(properties: Record<string, unknown>, required: string[] = Object.keys(properties)): Record<string, unknown> {
  return { type: 'object', required, properties };
}
