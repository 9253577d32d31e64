import { createCheckpoint, publishCheckpoint } from '../recording/checkpoint.ts';
import { forensicsSettings } from '../recording/forensics-config.ts';
import { loadExistingKeyRing } from '../recording/key-files.ts';
import { parse, str, type Io } from './args.ts';
import { withLocalStore } from './local.ts';

export const HELP = `airlock checkpoint [--webhook URL] [--json]
    signs the ledger head now and publishes it (<dataDir>/checkpoints/latest.json, checkpoints.jsonl, and the
    configured webhook forensics.checkpointWebhook or --webhook URL)`;

export async function checkpointCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { webhook: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  return withLocalStore(str(values.config), async (store, loaded) => {
    const keys = loadExistingKeyRing(loaded.dataDir);
    const { checkpoint } = await createCheckpoint(store, keys);
    const webhookUrl = str(values.webhook) ?? forensicsSettings(loaded.config).checkpointWebhook;
    const published = await publishCheckpoint(checkpoint, { dataDir: loaded.dataDir, webhookUrl });
    if (values.json === true) io.out(JSON.stringify({ checkpoint, ...published }, null, 2));
    else {
      io.out(`checkpoint: ledger seq ${checkpoint.ledgerSeq}, hash ${checkpoint.ledgerHash}, signed by key ${checkpoint.keyId} at ${new Date(checkpoint.time).toISOString()}`);
      io.out(`written to ${published.files.join(' and ')}${published.webhook === 'none' ? '' : `; webhook ${published.webhook}`}`);
    }
    if (published.webhook === 'failed') io.err(`warning: checkpoint webhook failed: ${published.error}`);
    return 0;
  });
}
