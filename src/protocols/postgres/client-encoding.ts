/**
 * Statement text read as PostgreSQL reads it: in the session's client_encoding.
 *
 * The server converts each Query and Parse text from client_encoding to its own encoding when the message arrives,
 * then parses it. Server encodings are all ASCII-safe (every byte of a multibyte character has the high bit set), so
 * the tokens depend only on which client bytes the server takes as ASCII characters. In SJIS, BIG5, GBK, UHC and
 * GB18030 the second byte of a character can be an ASCII `\` or `'`: read as UTF-8, `E'\x83\x5c'; DROP TABLE t; -- '`
 * hides the DROP inside a string the server ends one byte earlier.
 *
 * So text is decoded with a strict WHATWG decoder and then checked against PostgreSQL's own character lengths
 * (`pg_*_mblen` in src/common/wchar.c): the decoded text must have the same ASCII characters, in the same places
 * between runs of other characters, as the server's split of the bytes. Anything else (a byte the decoder rejects,
 * drops or reads as ASCII where the server does not) is refused: the gateway never decides on text the server will
 * read differently. Text that is all ASCII reads the same in every client encoding. Encodings without a decoder
 * (JOHAB, EUC_TW, MULE_INTERNAL, LATIN10) are not read: statements with non-ASCII bytes are refused under them.
 */
import { isAscii } from 'node:buffer';

type Decode = (bytes: Buffer) => string;

/** WHATWG labels by PostgreSQL's canonical encoding name (as ParameterStatus reports it). */
const WHATWG: Record<string, string> = {
  UTF8: 'utf-8',
  SJIS: 'shift_jis',
  SHIFT_JIS_2004: 'shift_jis',
  EUC_JP: 'euc-jp',
  EUC_JIS_2004: 'euc-jp',
  BIG5: 'big5',
  GBK: 'gbk',
  EUC_CN: 'gbk',
  GB18030: 'gb18030',
  UHC: 'euc-kr',
  EUC_KR: 'euc-kr',
  KOI8R: 'koi8-r',
  KOI8U: 'koi8-u',
  WIN866: 'ibm866',
  WIN874: 'windows-874',
  ISO_8859_5: 'iso-8859-5',
  ISO_8859_6: 'iso-8859-6',
  ISO_8859_7: 'iso-8859-7',
  ISO_8859_8: 'iso-8859-8',
  LATIN2: 'iso-8859-2',
  LATIN3: 'iso-8859-3',
  LATIN4: 'iso-8859-4',
  LATIN5: 'iso-8859-9',
  LATIN6: 'iso-8859-10',
  LATIN7: 'iso-8859-13',
  LATIN8: 'iso-8859-14',
  LATIN9: 'iso-8859-15',
  ...Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => [`WIN125${i}`, `windows-125${i}`])),
};

/** Why an encoding is not read (each has multibyte characters and no decoder whose boundaries are known to match). */
const UNSUPPORTED: Record<string, string> = {
  JOHAB: 'no decoder for JOHAB is available to the gateway',
  EUC_TW: 'no decoder for EUC_TW is available to the gateway',
  MULE_INTERNAL: 'no decoder for MULE_INTERNAL is available to the gateway',
  LATIN10: 'no decoder for LATIN10 (ISO 8859-16) is available to the gateway',
};

/** Every client encoding PostgreSQL accepts, by canonical name. */
export const CLIENT_ENCODINGS: readonly string[] = ['SQL_ASCII', 'LATIN1', ...Object.keys(WHATWG), ...Object.keys(UNSUPPORTED)];

export type DecodedText = { readonly text: string } | { readonly error: string; readonly code: string };

/** How statement text from the client is read now; follows the server's ParameterStatus reports. */
export class ClientEncoding {
  private client = 'UTF8';
  private server = 'UTF8';
  private decode: Decode | string = decoderFor('UTF8', 'UTF8');
  private mblen: MbLen = ONE;

  get name(): string {
    return this.client;
  }

  /** A ParameterStatus from the target (client_encoding after startup, SET, RESET, set_config, a rollback…). */
  parameter(name: string, value: string): void {
    if (name === 'client_encoding') this.client = value.toUpperCase();
    else if (name === 'server_encoding') this.server = value.toUpperCase();
    else return;
    this.decode = decoderFor(this.client, this.server);
    this.mblen = ASCII_UNSAFE[this.client] ?? ONE;
  }

  /** Whether the bytes read the same whatever the client_encoding: all ASCII (no encoding puts an ASCII byte first in a character). */
  static sameInEveryEncoding(bytes: Buffer): boolean {
    return isAscii(bytes);
  }

  /** The text the server will parse from these bytes, or why it cannot be read exactly. */
  read(bytes: Buffer): DecodedText {
    if (isAscii(bytes)) return { text: bytes.toString('latin1') };
    if (typeof this.decode === 'string') {
      return { code: '0A000', error: `statements with non-ASCII text cannot be checked in client_encoding ${this.client}: ${this.decode}; use UTF8` };
    }
    let text: string;
    try {
      text = this.decode(bytes);
    } catch {
      return { code: '22021', error: `invalid byte sequence for encoding "${this.client}"` };
    }
    if (!sameSplit(bytes, text, this.mblen)) {
      return { code: '22021', error: `text in client_encoding ${this.client} that the gateway cannot read exactly as the server does` };
    }
    return { text };
  }
}

/** Bytes shown in the record of a statement refused unread. */
const PREVIEW_BYTES = 200;

/** The start of text that is refused unread, for the recording: read loosely, for people, never decided on. */
export function preview(bytes: Buffer): string {
  return bytes.subarray(0, PREVIEW_BYTES).toString('utf8');
}

/** Length of the character at `i` as PostgreSQL counts it (only called on a byte with the high bit set). */
type MbLen = (b: Buffer, i: number) => number;

const ONE: MbLen = () => 1;
const TWO: MbLen = () => 2;
/** Encodings whose second (or later) byte can be ASCII, with pg_sjis_mblen, pg_big5_mblen, … */
const ASCII_UNSAFE: Record<string, MbLen> = {
  SJIS: (b, i) => (b[i]! >= 0xa1 && b[i]! <= 0xdf ? 1 : 2),
  SHIFT_JIS_2004: (b, i) => (b[i]! >= 0xa1 && b[i]! <= 0xdf ? 1 : 2),
  BIG5: TWO,
  GBK: TWO,
  UHC: TWO,
  GB18030: (b, i) => ((b[i + 1] ?? 0) >= 0x30 && (b[i + 1] ?? 0) <= 0x39 ? 4 : 2),
};

/**
 * Whether `text` has exactly the ASCII characters the server sees in `bytes`, each between the same runs of
 * non-ASCII characters. Those are all the lexer looks at: a quote, backslash or semicolon moved into or out of a
 * character changes the tokens.
 */
function sameSplit(bytes: Buffer, text: string, mblen: MbLen): boolean {
  let i = 0;
  let j = 0;
  while (i < bytes.length) {
    const c = bytes[i]!;
    if (c < 0x80) {
      if (text.charCodeAt(j) !== c) return false;
      i++;
      j++;
      continue;
    }
    while (i < bytes.length && bytes[i]! >= 0x80) i += mblen(bytes, i);
    const runStart = j;
    while (j < text.length && text.charCodeAt(j) >= 0x80) j++;
    if (j === runStart) return false;
  }
  return i === bytes.length && j === text.length;
}

/** A decoder for text sent in `client` to a server in `server`, or why there is none. */
function decoderFor(client: string, server: string): Decode | string {
  // SQL_ASCII as client encoding: no conversion, the bytes are checked as the server's own encoding.
  const effective = client === 'SQL_ASCII' ? server : client;
  if (effective === 'SQL_ASCII') return (b) => b.toString('latin1'); // nothing converted or checked: one byte, one character
  if (effective === 'LATIN1') return (b) => b.toString('latin1'); // WHATWG's iso-8859-1 is windows-1252
  const label = WHATWG[effective];
  if (!label) return UNSUPPORTED[effective] ?? `the gateway does not know client_encoding ${effective}`;
  // ignoreBOM keeps a leading U+FEFF as PostgreSQL does; only for UTF-8 (Node's ICU decoders drop 0xFF with it).
  const decoder = new TextDecoder(label, { fatal: true, ignoreBOM: label === 'utf-8' });
  return (b) => decoder.decode(b);
}
