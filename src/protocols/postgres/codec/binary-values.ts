/**
 * Binary-format values as text, for the recording (which masks the text before it is stored). Types whose
 * binary send format is exact and simple are decoded (https://www.postgresql.org/docs/current/protocol-overview.html
 * and each type's *send function); anything else is kept only if it reads as printable UTF-8 text (a bytea
 * holding an address, a text value of an unknown type), so the masker sees it, and otherwise only by size.
 * Raw bytes are never stored: their hex would hold whatever they hold, unmasked.
 */

/** text, varchar, bpchar, name, json, unknown, xml, citext-like domains report their base type. */
const TEXT_LIKE = new Set([25, 1043, 1042, 19, 114, 705, 142]);
const Oid = { bool: 16, int8: 20, int2: 21, int4: 23, oid: 26, float4: 700, float8: 701, jsonb: 3802, uuid: 2950 } as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text a binary value stands for, or `<binary N bytes>`. `typeOid` comes from the row's description, when known. */
export function binaryValueText(v: Buffer, typeOid: number | undefined): string {
  switch (typeOid) {
    case Oid.bool:
      if (v.length === 1) return v[0] ? 't' : 'f';
      break;
    case Oid.int2:
      if (v.length === 2) return String(v.readInt16BE(0));
      break;
    case Oid.int4:
      if (v.length === 4) return String(v.readInt32BE(0));
      break;
    case Oid.oid:
      if (v.length === 4) return String(v.readUInt32BE(0));
      break;
    case Oid.int8:
      if (v.length === 8) return v.readBigInt64BE(0).toString();
      break;
    case Oid.float4:
      if (v.length === 4) return String(v.readFloatBE(0));
      break;
    case Oid.float8:
      if (v.length === 8) return String(v.readDoubleBE(0));
      break;
    case Oid.uuid:
      if (v.length === 16) {
        const h = v.toString('hex');
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
      }
      break;
    case Oid.jsonb:
      if (v.length > 0 && v[0] === 1) return printable(v.subarray(1)) ?? sized(v);
      break;
    default:
      if (typeOid !== undefined && TEXT_LIKE.has(typeOid)) return printable(v) ?? sized(v);
  }
  return printable(v) ?? sized(v);
}

function sized(v: Buffer): string {
  return `<binary ${v.length} bytes>`;
}

/** The bytes as UTF-8 text when they are that and hold no control characters other than whitespace. */
function printable(v: Buffer): string | undefined {
  let text: string;
  try {
    text = utf8.decode(v);
  } catch {
    return undefined;
  }
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}
