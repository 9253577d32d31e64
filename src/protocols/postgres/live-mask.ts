import type { ValueMasker } from '../../policy/connection-policies.ts';
import { BackendCode } from './codec/codes.ts';
import {
  decodeCopyResponse, decodeDataRow, decodeErrorFields, decodeNotification, decodeParameterStatus, decodeRowDescription,
  encodeCopyDataOut, encodeDataRow, encodeErrorFields, encodeErrorResponse, encodeNotification, encodeParameterStatus,
  encodeRowDescription, type FieldDescription,
} from './codec/backend.ts';
import { encodeDescribe, type BindMessage } from './codec/frontend.ts';
import type { Frame } from './codec/frame-reader.ts';
import { maskCopyRow } from './copy-mask.ts';

/** The gateway cannot show this to a live-masked client; the session ends with the message. */
export class LiveMaskRefusal extends Error {}

/**
 * What each backend message carries, for a live-masked client. Every message type the gateway relays is
 * listed: `masked` ones carry text a query or a server-side program can fill with table data and are
 * rewritten; `structural` ones carry only protocol state, codes, counts or type OIDs; `refused` ones end
 * the session. A type missing here is refused (see `LiveMask.frame`), so a new one cannot slip through.
 */
export const BACKEND_DATA: Readonly<Record<keyof typeof BackendCode, 'masked' | 'structural' | 'refused'>> = {
  DataRow: 'masked',
  RowDescription: 'masked', // column names: a cursor over dynamic SQL can name a column after a value
  CopyData: 'masked',
  ErrorResponse: 'masked',
  NoticeResponse: 'masked',
  NotificationResponse: 'masked',
  ParameterStatus: 'masked', // set_config('application_name', <a value>, false) reports it
  CopyOutResponse: 'structural', // binary COPY is refused when it starts (see copyOut)
  Authentication: 'structural',
  BackendKeyData: 'structural',
  ReadyForQuery: 'structural',
  CommandComplete: 'structural',
  EmptyQueryResponse: 'structural',
  ParseComplete: 'structural',
  BindComplete: 'structural',
  CloseComplete: 'structural',
  NoData: 'structural',
  PortalSuspended: 'structural',
  ParameterDescription: 'structural',
  CopyInResponse: 'structural',
  CopyDone: 'structural',
  NegotiateProtocolVersion: 'structural',
  FunctionCallResponse: 'refused', // fast-path calls are refused before they reach the target
  CopyBothResponse: 'refused', // replication connections are refused at startup
};

const STRUCTURAL = new Set<number>(
  Object.entries(BACKEND_DATA).filter(([, v]) => v === 'structural').map(([k]) => BackendCode[k as keyof typeof BackendCode]),
);

/** ErrorResponse / NoticeResponse fields that hold codes, positions or source locations, not text. */
const CODE_FIELDS = new Set(['S', 'V', 'C', 'P', 'p', 'F', 'L', 'R']);

export const BINARY_REFUSED = 'binary result formats cannot be masked, so they are refused for this identity; request text results';

interface PendingDescribe {
  readonly injected: boolean;
  /** The Sync / Query after which the target answers it. */
  readonly segment: number;
}

/**
 * Masks everything a live-masked client is sent, message by message (see BACKEND_DATA), and keeps each
 * DataRow matched to the RowDescription of its own result:
 *   - a simple query's rows follow their own RowDescription;
 *   - an Execute's rows follow the answer to a Describe of that portal sent right before it: the client's
 *     own, or else one the gateway sends itself and whose answer it keeps from the client;
 *   - binary result formats are refused at Bind (and a binary RowDescription, as a BINARY cursor gives to
 *     a simple query, ends the session), so every value masked is text.
 * Pure: the session feeds it frames and sends what it returns.
 */
export class LiveMask {
  private readonly describes: PendingDescribe[] = [];
  private sent = 0;
  private answered = 0;
  /** The description of the rows now arriving; undefined between results. */
  private columns: FieldDescription[] | undefined;
  /** The portal named by the client's last message when that message was a Describe of a portal. */
  private describedPortal: string | undefined;
  /** The COPY out under way: its column count, or why it is refused (the rest of it is kept from the client). */
  private copy: { columns: number } | { refused: string } | undefined;

  /**
   * `charset` gives how row and COPY bytes are read now: 'utf8' in client_encoding UTF8, else 'latin1', one
   * character per byte, so a rewritten value keeps every byte but the masked ones in any client encoding
   * (all are ASCII supersets: the ASCII text detectors look for reads the same).
   */
  constructor(
    private readonly masker: ValueMasker,
    private readonly counts: Record<string, number>,
    private readonly charset: () => 'utf8' | 'latin1' = () => 'utf8',
  ) {}

  // ---- client → target ----

  /** A reason to refuse this Bind, or undefined. */
  bind(b: BindMessage): string | undefined {
    this.describedPortal = undefined;
    return b.resultFormats.some((f) => f !== 0) ? BINARY_REFUSED : undefined;
  }

  describe(kind: 'S' | 'P', name: string): void {
    this.describes.push({ injected: false, segment: this.sent });
    this.describedPortal = kind === 'P' ? name : undefined;
  }

  /** Before an Execute goes out: the Describe the gateway sends first when the client did not just send one. */
  execute(portal: string): Buffer | undefined {
    const described = this.describedPortal === portal;
    this.describedPortal = undefined;
    if (described) return undefined;
    this.describes.push({ injected: true, segment: this.sent });
    return encodeDescribe('P', portal);
  }

  /** A Sync or a Query went to the target: it answers with a ReadyForQuery. */
  syncSent(): void {
    this.describedPortal = undefined;
    this.sent++;
  }

  /** Any other client message. */
  other(): void {
    this.describedPortal = undefined;
  }

  // ---- target → client ----

  /** The bytes to send the client for this target frame (`out`: what the session would send), or undefined to send nothing. */
  frame(f: Frame, out: Buffer): Buffer | undefined {
    switch (f.code) {
      case BackendCode.DataRow:
        return this.dataRow(f, out);
      case BackendCode.RowDescription:
        return this.rowDescription(f, out);
      case BackendCode.NoData:
        return this.answerDescribe([]) ? undefined : out;
      case BackendCode.CopyOutResponse:
        return this.copyOut(f, out);
      case BackendCode.CopyData:
        return this.copyData(f, out);
      case BackendCode.CopyDone:
        return this.copy !== undefined && 'refused' in this.copy ? undefined : out;
      case BackendCode.CommandComplete:
        return this.endResult(out);
      case BackendCode.EmptyQueryResponse:
      case BackendCode.PortalSuspended:
        this.columns = undefined;
        return out;
      case BackendCode.ErrorResponse:
        this.columns = undefined;
        this.copy = undefined;
        return this.fields(f, out);
      case BackendCode.NoticeResponse:
        return this.fields(f, out);
      case BackendCode.NotificationResponse: {
        const n = decodeNotification(f.body);
        const channel = this.masker.maskText(n.channel, this.counts);
        const payload = this.masker.maskText(n.payload, this.counts);
        return channel === n.channel && payload === n.payload ? out : encodeNotification(n.pid, channel, payload);
      }
      case BackendCode.ParameterStatus: {
        const p = decodeParameterStatus(f.body);
        const value = this.masker.maskText(p.value, this.counts);
        return value === p.value ? out : encodeParameterStatus(p.name, value);
      }
      case BackendCode.ReadyForQuery:
        this.answered++;
        while (this.describes.length && this.describes[0].segment < this.answered) this.describes.shift();
        this.columns = undefined;
        this.copy = undefined;
        return out;
      default:
        if (STRUCTURAL.has(f.code)) return out;
        throw new LiveMaskRefusal(`the target sent a message the gateway cannot mask (type 0x${f.code.toString(16)})`);
    }
  }

  /** Takes a RowDescription / NoData as the answer to a pending Describe; true when the gateway sent that Describe itself. */
  private answerDescribe(columns: FieldDescription[]): boolean {
    this.columns = columns;
    const head = this.describes[0];
    if (head === undefined || head.segment !== this.answered) return false;
    this.describes.shift();
    return head.injected;
  }

  private rowDescription(f: Frame, out: Buffer): Buffer | undefined {
    const fields = decodeRowDescription(f.body);
    if (fields.some((c) => c.format !== 0)) throw new LiveMaskRefusal(BINARY_REFUSED);
    if (this.answerDescribe(fields)) return undefined;
    let changed = false;
    const shown = fields.map((c) => {
      const name = this.masker.maskText(c.name, this.counts);
      if (name === c.name) return c;
      changed = true;
      return { ...c, name };
    });
    return changed ? encodeRowDescription(shown) : out;
  }

  private dataRow(f: Frame, out: Buffer): Buffer {
    const columns = this.columns;
    const values = decodeDataRow(f.body);
    if (columns === undefined || columns.length !== values.length) throw new LiveMaskRefusal('a row arrived that the gateway cannot match to its description');
    let changed = false;
    const charset = this.charset();
    const masked = values.map((v, i) => {
      if (v === null) return null;
      const text = v.toString(charset);
      const m = this.masker.maskValue(columns[i].name, text, this.counts);
      if (m === text) return v;
      changed = true;
      return Buffer.from(m, charset);
    });
    return changed ? encodeDataRow(masked) : out;
  }

  private endResult(out: Buffer): Buffer {
    this.columns = undefined;
    const copy = this.copy;
    this.copy = undefined;
    if (copy === undefined || !('refused' in copy)) return out;
    return encodeErrorResponse({ severity: 'ERROR', code: '0A000', message: `Airlock: ${copy.refused}` });
  }

  /** Binary COPY is swallowed up to its CommandComplete, which becomes an error. */
  private copyOut(f: Frame, out: Buffer): Buffer | undefined {
    const { format, columnFormats } = decodeCopyResponse(f.body);
    if (format !== 0 || columnFormats.some((c) => c !== 0)) {
      this.copy = { refused: 'binary COPY cannot be masked, so it is refused for this identity; use text or CSV' };
      return undefined;
    }
    this.copy = { columns: columnFormats.length };
    return out;
  }

  private copyData(f: Frame, out: Buffer): Buffer | undefined {
    const copy = this.copy;
    if (copy === undefined) throw new LiveMaskRefusal('COPY data arrived outside a COPY');
    if ('refused' in copy) return undefined;
    const charset = this.charset();
    const row = f.body.toString(charset);
    const masked = maskCopyRow(row, copy.columns, this.masker, this.counts);
    if (masked === undefined) {
      this.copy = { refused: 'a COPY row too large to mask under every delimiter it could have; the COPY is refused for this identity (select the rows instead)' };
      return undefined;
    }
    return masked === row ? out : encodeCopyDataOut(Buffer.from(masked, charset));
  }

  private fields(f: Frame, out: Buffer): Buffer {
    if (out !== f.bytes) return out; // the gateway's own message in place of the target's (a denial)
    const fields = decodeErrorFields(f.body);
    let changed = false;
    for (const k in fields) {
      if (CODE_FIELDS.has(k)) continue;
      const m = this.masker.maskText(fields[k], this.counts);
      if (m !== fields[k]) {
        fields[k] = m;
        changed = true;
      }
    }
    return changed ? encodeErrorFields(f.code, fields) : out;
  }
}
