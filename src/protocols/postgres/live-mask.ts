import type { ValueMasker } from '../../policy/connection-policies.ts';
import { decodeDataRow, encodeDataRow, type FieldDescription } from './codec/backend.ts';
import type { Frame } from './codec/frame-reader.ts';

/** Types whose binary send format is their UTF-8 text: text, varchar, bpchar, name, json, unknown, xml. */
const TEXT_LIKE = new Set([25, 1043, 1042, 19, 114, 705, 142]);
const JSONB = 3802; // binary jsonb: version byte 1, then text

/**
 * Rewrites a DataRow so the client sees masked values. Text-format values and binary values of text-like
 * types are masked by column name and content; other binary values (numbers, dates…) carry no free text
 * and pass unchanged. Returns the original bytes when nothing changed.
 */
export function maskDataRow(frame: Frame, columns: readonly FieldDescription[] | undefined, masker: ValueMasker, counts: Record<string, number>): Buffer {
  const values = decodeDataRow(frame.body);
  let changed = false;
  const out: (Buffer | string | null)[] = values.map((v, i) => {
    if (v === null) return null;
    const col = columns?.[i];
    const binary = (col?.format ?? 0) !== 0;
    let prefix = '';
    let text: string;
    if (!binary) text = v.toString('utf8');
    else if (col && TEXT_LIKE.has(col.typeOid)) text = v.toString('utf8');
    else if (col && col.typeOid === JSONB && v[0] === 1) {
      prefix = '\u0001';
      text = v.subarray(1).toString('utf8');
    } else return v;
    const masked = masker.maskValue(col?.name ?? '', text, counts);
    if (masked === text) return v;
    changed = true;
    return prefix + masked;
  });
  return changed ? encodeDataRow(out) : frame.bytes;
}
