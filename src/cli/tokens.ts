import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { parseDuration } from '../core/duration.ts';
import { parse, str, type Io } from './args.ts';
import { describeSetup, localActor, withAdmin } from './local.ts';

export const HELP = `airlock tokens issue --subject S [--groups a,b] [--ttl 8h] [--service] [--description TEXT]
airlock tokens list [--json]
airlock tokens revoke ID`;

export async function tokensCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    subject: { type: 'string' }, groups: { type: 'string' }, ttl: { type: 'string' }, service: { type: 'boolean' },
    description: { type: 'string' }, json: { type: 'boolean' },
  });
  const ttlMs = ttlOption(str(values.ttl));
  return withAdmin(str(values.config), async (admin, store, loaded) => {
    if (sub === 'issue') {
      const subject = str(values.subject);
      if (!subject) throw new AirlockError(ErrorCodes.usage, `--subject is required\n${HELP}`);
      const groups = (str(values.groups) ?? '').split(',').map((g) => g.trim()).filter(Boolean);
      const issued = await admin.issueToken(localActor(), {
        subject, groups, ttlMs, service: values.service === true, description: str(values.description),
      });
      const r = issued.record;
      io.err(`issued ${r.kind} token ${r.id} for ${r.subject} (groups: ${r.groups.join(', ') || 'none'}), expires ${new Date(r.expiresAt).toISOString()}; ${describeSetup(loaded)}`);
      io.out(issued.token);
      return 0;
    }
    if (sub === 'list') {
      const list = await store.listTokens();
      if (values.json) {
        io.out(JSON.stringify(list.map(({ secretHash: _s, ...t }) => t), null, 2));
        return 0;
      }
      const now = Date.now();
      io.out(['ID', 'SUBJECT', 'KIND', 'GROUPS', 'EXPIRES', 'STATE'].join('\t'));
      for (const t of list) {
        const state = t.revokedAt ? 'revoked' : t.expiresAt <= now ? 'expired' : 'active';
        io.out([t.id, t.subject, t.kind, t.groups.join(',') || '-', new Date(t.expiresAt).toISOString(), state].join('\t'));
      }
      return 0;
    }
    if (sub === 'revoke') {
      const id = positionals[0];
      if (!id) throw new AirlockError(ErrorCodes.usage, `token id required\n${HELP}`);
      if (!(await admin.revokeToken(localActor(), id))) {
        io.err(`airlock tokens: no active token ${id}`);
        return 4;
      }
      io.out(`revoked ${id}; its live sessions end within seconds`);
      return 0;
    }
    io.err(HELP);
    return sub ? 2 : 0;
  });
}

function ttlOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (err) {
    throw new AirlockError(ErrorCodes.usage, `--ttl: ${(err as Error).message}`);
  }
}
