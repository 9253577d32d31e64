import { resolve } from 'node:path';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { exportBundle } from '../recording/bundle.ts';
import { publishCheckpoint } from '../recording/checkpoint.ts';
import { forensicsSettings } from '../recording/forensics-config.ts';
import { loadExistingKeyRing } from '../recording/key-files.ts';
import { parse, str, type Io } from './args.ts';
import { auditLocal, withLocalStore } from './local.ts';

export const HELP = `airlock export SESSION_ID… --out FILE [--json]
    writes a signed, self-contained evidence bundle of ended sessions (verify it anywhere: airlock verify --bundle FILE)`;

export async function exportCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: 'string', short: 'o' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const out = str(values.out);
  if (!out || positionals.length === 0) throw new AirlockError(ErrorCodes.usage, `session ids and --out FILE required\n${HELP}`);
  return withLocalStore(str(values.config), async (store, loaded) => {
    const keys = loadExistingKeyRing(loaded.dataDir);
    const file = resolve(out);
    const r = await exportBundle(store, keys, positionals, file);
    for (const id of positionals) await auditLocal(store, 'session.export', id, { file });
    const published = await publishCheckpoint(r.checkpoint, { dataDir: loaded.dataDir, webhookUrl: forensicsSettings(loaded.config).checkpointWebhook });
    if (values.json === true) io.out(JSON.stringify({ file, ...r, webhook: published.webhook }, null, 2));
    else {
      io.out(`wrote ${file}: ${r.sessions} sessions, ${r.events} events, ${r.ledgerEntries} ledger entries, ${r.bytes} bytes`);
      io.out(`signed by key ${r.checkpoint.keyId}; checkpoint at ledger seq ${r.checkpoint.ledgerSeq} published`);
    }
    if (published.webhook === 'failed') io.err(`warning: checkpoint webhook failed: ${published.error}`);
    return 0;
  });
}
