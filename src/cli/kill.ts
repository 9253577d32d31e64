import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { parse, str, type Io } from './args.ts';
import { localActor, withAdmin } from './local.ts';

const HELP = `airlock sessions kill ID [--reason TEXT] [--no-wait]   end a live session (audited; its end reason names you)`;
const WAIT_MS = 5_000;

/** `sessions kill ID`: asks the gateway holding the session (through the store) to end it, and waits to see it end. */
export async function killCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { reason: { type: 'string' }, 'no-wait': { type: 'boolean' } });
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new AirlockError(ErrorCodes.usage, `one session id required\n${HELP}`);
  return withAdmin(str(values.config), async (admin, store) => {
    const outcome = await admin.terminate(localActor(), id, str(values.reason) ?? null);
    if (outcome === 'not_found') throw new AirlockError(ErrorCodes.notFound, `no session ${id}`);
    if (outcome === 'ended') {
      io.err(`session ${id} has already ended`);
      return 1;
    }
    if (values['no-wait'] !== true) {
      for (const deadline = Date.now() + WAIT_MS; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
        const s = await store.getSession(id);
        if (s?.endedAt !== null) {
          io.out(`session ${id} ended (${s?.endReason ?? 'purged'})`);
          return 0;
        }
      }
    }
    io.out(`termination of session ${id} requested; the gateway holding it ends it within seconds`);
    return 0;
  });
}
