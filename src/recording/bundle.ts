import { createHash } from 'node:crypto';
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import type { LedgerEntry, SessionRecord, Store } from '../store/types.ts';
import { createCheckpoint } from './checkpoint.ts';
import { checkpointLine, entryLine, eventLine, headerLine, proofLine, sessionLine, signatureLine } from './bundle-format.ts';
import type { KeyRing } from './keys.ts';
import type { Checkpoint } from './ledger-check.ts';
import { inclusionProof } from './merkle-index.ts';
import { bundleMessage } from './signatures.ts';
import { CHAIN_VERSION } from './chain.ts';

export { verifyBundle, type BundleReport } from './bundle-verify.ts';

export interface ExportResult {
  /** Signed at export time over the ledger head; publish it like any other checkpoint. */
  readonly checkpoint: Checkpoint;
  readonly sessions: number;
  readonly events: number;
  /** The seals: the only ledger entries a bundle carries. */
  readonly ledgerEntries: number;
  readonly bytes: number;
}

/**
 * Writes a self-contained evidence bundle for closed sessions: per session its record, its events in order,
 * its seal and the seal's inclusion proof in the Merkle tree of a checkpoint signed now (which also lands in
 * the ledger); then that checkpoint and a signature over the whole file. Streams events; written to a temp
 * file and renamed.
 */
export async function exportBundle(store: Store, keys: KeyRing, sessionIds: readonly string[], outFile: string): Promise<ExportResult> {
  const ids = [...new Set(sessionIds)];
  if (ids.length === 0) throw new AirlockError(ErrorCodes.usage, 'no sessions to export');
  const sessions: SessionRecord[] = [];
  for (const id of ids) {
    const s = await store.getSession(id);
    if (!s) throw new AirlockError(ErrorCodes.notFound, `no session ${id} (purged, or never recorded)`);
    if (s.endedAt === null) throw new AirlockError(ErrorCodes.usage, `session ${id} is still open; export it once it has ended and been sealed`);
    sessions.push(s);
  }
  const { checkpoint } = await createCheckpoint(store, keys);
  const seals = new Map<string, LedgerEntry>();
  for (const id of ids) {
    const seal = await store.findSeal(id);
    if (seal && seal.seq <= checkpoint.ledgerSeq) seals.set(id, seal);
  }
  for (const id of ids) if (!seals.has(id)) throw new AirlockError(ErrorCodes.store, `session ${id} has no seal in the ledger; run airlock verify`);

  const tmp = `${outFile}.${process.pid}.tmp`;
  const out = new LineWriter(tmp);
  let events = 0;
  try {
    out.line(headerLine(ids, keys.keys));
    for (const s of sessions) {
      out.line(sessionLine(s));
      let indexed = false;
      for await (const e of store.readEvents(s.id)) {
        if (e.seq === 0 && e.type === 'session.start') indexed = e.data.chain === CHAIN_VERSION;
        out.line(eventLine(e, indexed));
        events++;
      }
      const seal = seals.get(s.id)!;
      out.line(entryLine('seal', seal));
      out.line(proofLine(seal.seq - 1, checkpoint.ledgerSeq, await inclusionProof(store, seal.seq, checkpoint.ledgerSeq)));
    }
    out.line(checkpointLine(checkpoint));
    const sha256 = out.digest();
    out.line(signatureLine(sha256, keys.current.keyId, keys.sign(bundleMessage(sha256))));
    out.close();
    renameSync(tmp, outFile);
  } catch (err) {
    out.close();
    rmSync(tmp, { force: true });
    throw err;
  }
  return { checkpoint, sessions: sessions.length, events, ledgerEntries: seals.size, bytes: out.bytes };
}

class LineWriter {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private chunks: string[] = [];
  private pending = 0;
  bytes = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'wx', 0o600);
  }

  line(text: string): void {
    const l = `${text}\n`;
    this.hash.update(l);
    this.chunks.push(l);
    this.pending += l.length;
    if (this.pending >= 1 << 20) this.flush();
  }

  /** SHA-256 of everything written so far (call once, before the signature line). */
  digest(): string {
    return this.hash.copy().digest('hex');
  }

  private flush(): void {
    if (this.chunks.length === 0) return;
    const buf = Buffer.from(this.chunks.join(''));
    this.chunks = [];
    this.pending = 0;
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
    this.bytes += buf.length;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}
