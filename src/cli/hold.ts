import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { parse, str, type Io } from './args.ts';
import { localActor, withAdmin } from './local.ts';

const HELP = `airlock sessions hold ID      place a legal hold: retention never purges the session
airlock sessions unhold ID    release it`;

/** `hold ID` / `unhold ID` (wired under `airlock sessions`). */
export async function holdCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {});
  if (sub !== 'hold' && sub !== 'unhold') throw new AirlockError(ErrorCodes.usage, HELP);
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new AirlockError(ErrorCodes.usage, `one session id required\n${HELP}`);
  return withAdmin(str(values.config), async (admin) => {
    const hold = sub === 'hold';
    const session = await admin.setHold(localActor(), id, hold);
    if (!session) throw new AirlockError(ErrorCodes.notFound, `no session ${id} (purged, or never recorded)`);
    if (session.legalHold === hold) io.out(`session ${id} ${hold ? 'was already on legal hold' : 'was not on legal hold'}`);
    else io.out(hold ? `legal hold placed on session ${id}: retention will keep it` : `legal hold released on session ${id}`);
    return 0;
  });
}
