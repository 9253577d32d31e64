import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { parseDuration } from '../core/duration.ts';
import { parse, str, type Io } from './args.ts';
import { localActor, withAdmin } from './local.ts';

export const HELP = `airlock locks add --subject S [--reason TEXT] [--ttl 1h]   lock an identity out: no login anywhere, live sessions end
airlock locks list [--all] [--json]                          active locks (--all: expired ones too)
airlock locks remove ID`;

export async function locksCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { subject: { type: 'string' }, reason: { type: 'string' }, ttl: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } });
  if (!sub || !['add', 'list', 'remove'].includes(sub)) {
    io.err(HELP);
    return sub ? 2 : 0;
  }
  let ttlMs: number | undefined;
  try {
    ttlMs = values.ttl === undefined ? undefined : parseDuration(String(values.ttl));
  } catch (err) {
    throw new AirlockError(ErrorCodes.usage, `--ttl: ${(err as Error).message}`);
  }
  return withAdmin(str(values.config), async (admin, store) => {
    if (sub === 'add') {
      const subject = str(values.subject);
      if (!subject) throw new AirlockError(ErrorCodes.usage, `--subject is required\n${HELP}`);
      const lock = await admin.addLock(localActor(), { subject, reason: str(values.reason), ttlMs });
      io.err(`locked ${subject}${lock.expiresAt ? ` until ${new Date(lock.expiresAt).toISOString()}` : ''}; live sessions end within seconds`);
      io.out(lock.id);
      return 0;
    }
    if (sub === 'list') {
      const locks = await store.listLocks(values.all ? {} : { activeAt: Date.now() });
      if (values.json) {
        io.out(JSON.stringify(locks, null, 2));
        return 0;
      }
      io.out(['ID', 'SUBJECT', 'BY', 'CREATED', 'EXPIRES', 'REASON'].join('\t'));
      for (const l of locks) {
        io.out([l.id, l.subject, l.createdBy, new Date(l.createdAt).toISOString(), l.expiresAt ? new Date(l.expiresAt).toISOString() : 'never', l.reason ?? ''].join('\t'));
      }
      return 0;
    }
    const id = positionals[0];
    if (!id) throw new AirlockError(ErrorCodes.usage, `lock id required\n${HELP}`);
    if (!(await admin.removeLock(localActor(), id))) {
      io.err(`no lock ${id}`);
      return 1;
    }
    io.out(`removed lock ${id}`);
    return 0;
  });
}
