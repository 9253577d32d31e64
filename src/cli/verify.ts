import { existsSync } from 'node:fs';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { verifyBundle } from '../recording/bundle.ts';
import { latestCheckpointFile, readCheckpointFile } from '../recording/checkpoint.ts';
import { readPublicKeys, readPublicKeysFile } from '../recording/key-files.ts';
import { verifyStore, type Break, type VerifyReport } from '../recording/verify.ts';
import { parse, str, type Io } from './args.ts';
import { withLocalStore } from './local.ts';

export const HELP = `airlock verify [SESSION_ID…] [--checkpoint FILE] [--keys public-keys.json] [--json]
    checks the local store: every session's hash chain against its signed seal, the ledger, and the last
    published checkpoint (default <dataDir>/checkpoints/latest.json; FILE may be a copy kept elsewhere, JSON or JSONL)
airlock verify --bundle FILE [--keys public-keys.json] [--json]
    checks an evidence bundle offline; --keys: the gateway keys to trust (else the bundle's key ids are printed to compare)
Exit status: 0 when nothing is wrong, 1 on any break, 4 when a SESSION_ID names no session (and nothing is broken).`;

export async function verifyCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean' }, bundle: { type: 'string' }, checkpoint: { type: 'string' }, keys: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const json = values.json === true;
  const bundle = str(values.bundle);
  if (bundle) {
    if (positionals.length) throw new AirlockError(ErrorCodes.usage, `--bundle verifies the whole bundle; no session ids\n${HELP}`);
    if (!existsSync(bundle)) throw new AirlockError(ErrorCodes.notFound, `no such file: ${bundle}`);
    const keysFile = str(values.keys);
    const r = await verifyBundle(bundle, { trustedKeys: keysFile ? readPublicKeysFile(keysFile) : undefined });
    if (json) io.out(JSON.stringify({ bundle, ...r }, null, 2));
    else {
      io.out(`bundle ${bundle}: ${r.checked.sessions} sessions, ${r.checked.events} events, ${r.checked.ledgerEntries} ledger entries${checkpointText(r)}`);
      if (r.tree) io.out(`Merkle tree head signed by the checkpoint (each seal's proof is checked against it): ${r.tree.size} entries, root ${r.tree.rootHash}`);
      io.out(keysFile ? `signed by trusted keys: ${r.keyIds.join(', ')}` : `signed by keys ${r.keyIds.join(', ')}: compare with the gateway's published public keys (or pass --keys)`);
      printBreaks(r.breaks, io, 'bundle');
    }
    return r.breaks.length ? 1 : 0;
  }
  return withLocalStore(str(values.config), async (store, loaded) => {
    const keys = str(values.keys) ? readPublicKeysFile(String(values.keys)) : readPublicKeys(loaded.dataDir);
    const cpFile = str(values.checkpoint) ?? (existsSync(latestCheckpointFile(loaded.dataDir)) ? latestCheckpointFile(loaded.dataDir) : undefined);
    let checkpoint;
    try {
      checkpoint = cpFile ? readCheckpointFile(cpFile) : undefined;
    } catch (err) {
      throw new AirlockError(ErrorCodes.usage, `cannot read checkpoint ${cpFile}: ${(err as Error).message}`, { cause: err });
    }
    const r = await verifyStore(store, keys, { sessionIds: positionals.length ? positionals : undefined, checkpoint });
    if (json) io.out(JSON.stringify({ dataDir: loaded.dataDir, checkpointFile: cpFile ?? null, ...r }, null, 2));
    else {
      const c = r.checked;
      const extra = [c.openSessions ? `${c.openSessions} still open` : '', c.purgedSessions ? `${c.purgedSessions} purged by retention` : ''].filter(Boolean).join(', ');
      io.out(`verified ${c.sessions} sessions${extra ? ` (${extra})` : ''}, ${c.events} events, ${c.ledgerEntries} ledger entries${checkpointText(r)}`);
      if (!cpFile) io.out('no published checkpoint to compare with: run `airlock checkpoint` and keep a copy off this host');
      const cons = r.consistency;
      if (cons) io.out(`Merkle consistency proof (${cons.proof.length} hashes) from the published tree of ${cons.fromSize} entries to the current ${cons.toSize}: ${cons.verified ? 'verified' : 'FAILS'}`);
      for (const id of r.open) io.out(`open    ${id}: not sealed yet, so not verified (its opening is checked; its events can be checked only once it is sealed)`);
      printBreaks(r.breaks, io);
    }
    // A mistyped id is not a break: it says so, with its own exit status (4), unless something is broken too (1).
    for (const id of r.unknown ?? []) io.err(`airlock verify: no such session: ${id} (not in the store, never sealed or purged)`);
    return r.breaks.length ? 1 : r.unknown?.length ? 4 : 0;
  });
}

function checkpointText(r: VerifyReport): string {
  return r.checkpoint ? `; against the checkpoint of ${new Date(r.checkpoint.time).toISOString()} (ledger seq ${r.checkpoint.ledgerSeq})` : '';
}

/** One line per break: session, seq (or ledger entry), what is wrong. */
export function breakLine(b: Break, scope = 'store'): string {
  const where: string[] = [];
  if (b.sessionId) where.push(`session ${b.sessionId}`);
  if (b.seq !== null) where.push(`seq ${b.seq}`);
  if (b.ledgerSeq !== undefined) where.push(`ledger #${b.ledgerSeq}`);
  return `BREAK ${where.join(' ') || scope}: ${b.what}`;
}

function printBreaks(breaks: readonly Break[], io: Io, scope = 'store'): void {
  for (const b of breaks) io.out(breakLine(b, scope));
  io.out(breaks.length ? `${breaks.length} break${breaks.length === 1 ? '' : 's'}: the record was altered or damaged` : 'OK: no breaks');
}
