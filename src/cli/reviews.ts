import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { terminalSafe } from '../core/terminal-filter.ts';
import { visibleKeys } from '../core/visible.ts';
import { apiTarget, callApi } from './api-client.ts';
import { parse, str, type Io } from './args.ts';

export const HELP = `airlock reviews list [--all] [--json]
airlock reviews approve ID [--for 30m] [--reason TEXT]
airlock reviews deny ID --reason TEXT
airlock access request CONNECTION --for 1h --reason TEXT
  (these act as you: --token T, AIRLOCK_TOKEN or the airlock login session; --url or AIRLOCK_URL, default the config's listen.api)`;

const FLAGS = {
  token: { type: 'string' }, url: { type: 'string' }, for: { type: 'string' }, reason: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' },
} as const;

type Review = Record<string, unknown>;

export async function reviewsCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, FLAGS);
  if (sub !== 'list' && sub !== 'approve' && sub !== 'deny') {
    io.err(HELP);
    return sub ? 2 : 0;
  }
  const t = await apiTarget(values);
  if (sub === 'list') {
    const { reviews } = await callApi<{ reviews: Review[] }>(t, 'GET', `/api/reviews${values.all ? '' : '?status=pending'}`);
    if (values.json) io.out(JSON.stringify(reviews, null, 2));
    else {
      io.out(['ID', 'STATUS', 'KIND', 'REQUESTER', 'CONNECTION', 'RULE', 'EXPIRES', 'COMMAND'].join('\t'));
      // The command whole, with control characters and newlines visible: what the approver judges is what runs.
      for (const r of reviews) {
        io.out([...[r.id, r.status, r.kind, r.requester, r.connection, r.rule, r.expiresAt].map((v) => terminalSafe(String(v))), visibleKeys(String(r.text))].join('\t'));
      }
    }
    return 0;
  }
  const id = positionals[0];
  if (!id) throw new AirlockError(ErrorCodes.usage, `review id required\n${HELP}`);
  if (sub === 'deny' && !str(values.reason)) throw new AirlockError(ErrorCodes.usage, '--reason is required to deny');
  const { review } = await callApi<{ review: Review }>(t, 'POST', `/api/reviews/${encodeURIComponent(id)}/${sub}`, { reason: str(values.reason), for: str(values.for) });
  io.out(`${review.id} ${review.status}${review.validUntil ? ` until ${review.validUntil}` : ''}`);
  return 0;
}

export async function accessCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, FLAGS);
  if (sub !== 'request' || !positionals[0]) {
    io.err(HELP);
    return sub ? 2 : 0;
  }
  if (!str(values.for) || !str(values.reason)) throw new AirlockError(ErrorCodes.usage, '--for and --reason are required');
  const { review } = await callApi<{ review: Review }>(await apiTarget(values), 'POST', '/api/access-requests', { connection: positionals[0], for: str(values.for), reason: str(values.reason) });
  io.out(`access request ${review.id} is pending; an approver runs: airlock reviews approve ${review.id}`);
  return 0;
}
