/**
 * Server → client messages: decoders take a Frame body (after the Int32 length), encoders return whole messages.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { ProtocolError } from '../../../core/errors.ts';
import { AuthCode, BackendCode } from './codes.ts';
import { BufferReader } from './reader.ts';
import { allocMessage, checkCount, cstrSize, emptyMessage, putCString } from './writer.ts';

export type AuthRequest =
  | { type: 'ok' }
  | { type: 'cleartext' }
  | { type: 'md5'; salt: Buffer }
  | { type: 'sasl'; mechanisms: string[] }
  | { type: 'saslContinue'; data: Buffer }
  | { type: 'saslFinal'; data: Buffer }
  | { type: 'other'; code: number };

export type TransactionStatus = 'I' | 'T' | 'E';

export interface FieldDescription {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typeMod: number;
  format: number;
}

export interface ErrorFields {
  severity: 'ERROR' | 'FATAL' | 'PANIC';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

export interface NoticeFields {
  severity: 'NOTICE' | 'WARNING' | 'INFO';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

// ---- decoders --------------------------------------------------------------------------------

/** 'R' Authentication*: Int32 code, then per code: md5 Byte4 salt; SASL String* + NUL; SASLContinue/Final Byte[n] */
export function decodeAuthentication(body: Buffer): AuthRequest {
  const r = new BufferReader(body, 'Authentication');
  const code = r.int32();
  switch (code) {
    case AuthCode.Ok:
      r.end();
      return { type: 'ok' };
    case AuthCode.CleartextPassword:
      r.end();
      return { type: 'cleartext' };
    case AuthCode.MD5Password: {
      const salt = r.bytes(4);
      r.end();
      return { type: 'md5', salt };
    }
    case AuthCode.SASL: {
      const mechanisms: string[] = [];
      for (let m = r.cstring(); m !== ''; m = r.cstring()) mechanisms.push(m);
      r.end();
      return { type: 'sasl', mechanisms };
    }
    case AuthCode.SASLContinue:
      return { type: 'saslContinue', data: r.rest() };
    case AuthCode.SASLFinal:
      return { type: 'saslFinal', data: r.rest() };
    default:
      return { type: 'other', code };
  }
}

/** 'S' ParameterStatus: String name, String value */
export function decodeParameterStatus(body: Buffer): { name: string; value: string } {
  const r = new BufferReader(body, 'ParameterStatus');
  const name = r.cstring();
  const value = r.cstring();
  r.end();
  return { name, value };
}

/** 'K' BackendKeyData (protocol 3.0): Int32 pid, Int32 secret */
export function decodeBackendKeyData(body: Buffer): { pid: number; secret: number } {
  const r = new BufferReader(body, 'BackendKeyData');
  const pid = r.int32();
  const secret = r.int32();
  r.end();
  return { pid, secret };
}

/** 'Z' ReadyForQuery: Byte1 'I' | 'T' | 'E' */
export function decodeReadyForQuery(body: Buffer): TransactionStatus {
  const r = new BufferReader(body, 'ReadyForQuery');
  const s = r.uint8();
  r.end();
  if (s === 0x49) return 'I';
  if (s === 0x54) return 'T';
  if (s === 0x45) return 'E';
  throw r.fail();
}

/**
 * 'T' RowDescription: Int16 n, n × (String name, Int32 table OID, Int16 column attr, Int32 type OID,
 * Int16 type size, Int32 type modifier, Int16 format)
 */
export function decodeRowDescription(body: Buffer): FieldDescription[] {
  const r = new BufferReader(body, 'RowDescription');
  const n = r.uint16();
  if (n * 19 > r.remaining) throw r.fail();
  const fields = new Array<FieldDescription>(n);
  for (let i = 0; i < n; i++) {
    fields[i] = {
      name: r.cstring(),
      tableOid: r.uint32(),
      columnAttr: r.int16(),
      typeOid: r.uint32(),
      typeSize: r.int16(),
      typeMod: r.int32(),
      format: r.int16(),
    };
  }
  r.end();
  return fields;
}

/** 'D' DataRow: Int16 n, n × (Int32 len (-1 = NULL), Byte[len]). Values are subarrays of `body`. */
export function decodeDataRow(body: Buffer): (Buffer | null)[] {
  const r = new BufferReader(body, 'DataRow');
  const n = r.uint16();
  if (n * 4 > r.remaining) throw r.fail();
  const values = new Array<Buffer | null>(n);
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    if (len < -1) throw r.fail();
    values[i] = len === -1 ? null : r.bytes(len);
  }
  r.end();
  return values;
}

/** Column count of a DataRow body without decoding the values. */
export function dataRowColumnCount(body: Buffer): number {
  if (body.length < 2) throw new ProtocolError('malformed DataRow');
  return body.readUInt16BE(0);
}

const ROWS_TAG = /^(?:SELECT|UPDATE|DELETE|MERGE|MOVE|FETCH|COPY) (\d+)$|^INSERT \d+ (\d+)$/;

/** 'C' CommandComplete: String tag, e.g. 'SELECT 5', 'INSERT 0 3', 'CREATE TABLE' */
export function decodeCommandComplete(body: Buffer): { tag: string; rows: number | null } {
  const r = new BufferReader(body, 'CommandComplete');
  const tag = r.cstring();
  r.end();
  const m = ROWS_TAG.exec(tag);
  const count = m ? (m[1] ?? m[2]) : undefined;
  return { tag, rows: count === undefined ? null : Number(count) };
}

/** 'E' ErrorResponse / 'N' NoticeResponse: (Byte1 field type, String value)*, Byte1 0 */
export function decodeErrorFields(body: Buffer): Record<string, string> {
  const r = new BufferReader(body, 'ErrorResponse');
  const fields: Record<string, string> = {}; // keys are single letters, so no prototype keys can collide
  for (let t = r.uint8(); t !== 0; t = r.uint8()) fields[String.fromCharCode(t)] = r.cstring();
  r.end();
  return fields;
}

/** 'A' NotificationResponse: Int32 pid, String channel, String payload */
export function decodeNotification(body: Buffer): { pid: number; channel: string; payload: string } {
  const r = new BufferReader(body, 'NotificationResponse');
  const pid = r.int32();
  const channel = r.cstring();
  const payload = r.cstring();
  r.end();
  return { pid, channel, payload };
}

/** 'G' / 'H' / 'W' Copy{In,Out,Both}Response: Int8 format, Int16 n, Int16[n] column formats */
export function decodeCopyResponse(body: Buffer): { format: number; columnFormats: number[] } {
  const r = new BufferReader(body, 'CopyResponse');
  const format = r.int8();
  const n = r.uint16();
  if (n * 2 !== r.remaining) throw r.fail();
  const columnFormats = new Array<number>(n);
  for (let i = 0; i < n; i++) columnFormats[i] = r.int16();
  return { format, columnFormats };
}

/** 't' ParameterDescription: Int16 n, Int32[n] type OIDs */
export function decodeParameterDescription(body: Buffer): number[] {
  const r = new BufferReader(body, 'ParameterDescription');
  const n = r.uint16();
  if (n * 4 !== r.remaining) throw r.fail();
  const oids = new Array<number>(n);
  for (let i = 0; i < n; i++) oids[i] = r.uint32();
  return oids;
}

// ---- encoders --------------------------------------------------------------------------------

function authMessage(code: number, extra: number): Buffer {
  const buf = allocMessage(BackendCode.Authentication, 4 + extra);
  buf.writeInt32BE(code, 5);
  return buf;
}

/** 'R' AuthenticationOk: Int32 0 */
export function encodeAuthenticationOk(): Buffer {
  return authMessage(AuthCode.Ok, 0);
}

/** 'R' AuthenticationCleartextPassword: Int32 3 */
export function encodeAuthenticationCleartext(): Buffer {
  return authMessage(AuthCode.CleartextPassword, 0);
}

/** 'R' AuthenticationMD5Password: Int32 5, Byte4 salt */
export function encodeAuthenticationMd5(salt: Buffer): Buffer {
  if (salt.length !== 4) throw new ProtocolError('MD5 salt must be 4 bytes');
  const buf = authMessage(AuthCode.MD5Password, 4);
  salt.copy(buf, 9);
  return buf;
}

/** 'R' AuthenticationSASL: Int32 10, String mechanism*, Byte1 0 */
export function encodeAuthenticationSasl(mechanisms: readonly string[]): Buffer {
  let size = 1;
  for (const m of mechanisms) size += cstrSize(m);
  const buf = authMessage(AuthCode.SASL, size);
  let off = 9;
  for (const m of mechanisms) off = putCString(buf, off, m);
  buf[off] = 0;
  return buf;
}

/** 'R' AuthenticationSASLContinue: Int32 11, Byte[n] */
export function encodeAuthenticationSaslContinue(data: Buffer): Buffer {
  const buf = authMessage(AuthCode.SASLContinue, data.length);
  data.copy(buf, 9);
  return buf;
}

/** 'R' AuthenticationSASLFinal: Int32 12, Byte[n] */
export function encodeAuthenticationSaslFinal(data: Buffer): Buffer {
  const buf = authMessage(AuthCode.SASLFinal, data.length);
  data.copy(buf, 9);
  return buf;
}

/** 'S' ParameterStatus: String name, String value */
export function encodeParameterStatus(name: string, value: string): Buffer {
  const buf = allocMessage(BackendCode.ParameterStatus, cstrSize(name) + cstrSize(value));
  putCString(buf, putCString(buf, 5, name), value);
  return buf;
}

/** 'K' BackendKeyData: Int32 pid, Int32 secret (signed or unsigned 32-bit accepted) */
export function encodeBackendKeyData(pid: number, secret: number): Buffer {
  const buf = allocMessage(BackendCode.BackendKeyData, 8);
  buf.writeUInt32BE(pid >>> 0, 5);
  buf.writeUInt32BE(secret >>> 0, 9);
  return buf;
}

/** 'Z' ReadyForQuery: Byte1 status */
export function encodeReadyForQuery(status: TransactionStatus): Buffer {
  if (status !== 'I' && status !== 'T' && status !== 'E') throw new ProtocolError(`invalid status ${String(status)}`);
  const buf = allocMessage(BackendCode.ReadyForQuery, 1);
  buf[5] = status.charCodeAt(0);
  return buf;
}

/** 'E' ErrorResponse: S, V (= severity), C, M, [D], [H], Byte1 0 */
export function encodeErrorResponse(fields: ErrorFields): Buffer {
  return noticeLike(BackendCode.ErrorResponse, fields);
}

/** 'N' NoticeResponse: same layout as ErrorResponse */
export function encodeNoticeResponse(fields: NoticeFields): Buffer {
  return noticeLike(BackendCode.NoticeResponse, fields);
}

function noticeLike(code: number, f: ErrorFields | NoticeFields): Buffer {
  const sev = cstrSize(f.severity);
  let size = 2 * (1 + sev) + 1 + cstrSize(f.code) + 1 + cstrSize(f.message) + 1;
  if (f.detail !== undefined) size += 1 + cstrSize(f.detail);
  if (f.hint !== undefined) size += 1 + cstrSize(f.hint);
  const buf = allocMessage(code, size);
  let off = 5;
  buf[off++] = 0x53; // 'S'
  off = putCString(buf, off, f.severity);
  buf[off++] = 0x56; // 'V'
  off = putCString(buf, off, f.severity);
  buf[off++] = 0x43; // 'C'
  off = putCString(buf, off, f.code);
  buf[off++] = 0x4d; // 'M'
  off = putCString(buf, off, f.message);
  if (f.detail !== undefined) {
    buf[off++] = 0x44; // 'D'
    off = putCString(buf, off, f.detail);
  }
  if (f.hint !== undefined) {
    buf[off++] = 0x48; // 'H'
    off = putCString(buf, off, f.hint);
  }
  buf[off] = 0;
  return buf;
}

/** 'E' ErrorResponse / 'N' NoticeResponse with any fields, in the given order (layout at decodeErrorFields) */
export function encodeErrorFields(code: number, fields: Readonly<Record<string, string>>): Buffer {
  let size = 1;
  for (const k in fields) size += 1 + cstrSize(fields[k]);
  const buf = allocMessage(code, size);
  let off = 5;
  for (const k in fields) {
    buf[off++] = k.charCodeAt(0);
    off = putCString(buf, off, fields[k]);
  }
  buf[off] = 0;
  return buf;
}

/** 'A' NotificationResponse: Int32 pid, String channel, String payload */
export function encodeNotification(pid: number, channel: string, payload: string): Buffer {
  const buf = allocMessage(BackendCode.NotificationResponse, 4 + cstrSize(channel) + cstrSize(payload));
  buf.writeUInt32BE(pid >>> 0, 5);
  putCString(buf, putCString(buf, 9, channel), payload);
  return buf;
}

/** 'd' CopyData: Byte[n] */
export function encodeCopyDataOut(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const buf = allocMessage(BackendCode.CopyData, bytes.length);
  bytes.copy(buf, 5);
  return buf;
}

/** 'T' RowDescription (layout at decodeRowDescription) */
export function encodeRowDescription(fields: readonly FieldDescription[]): Buffer {
  checkCount(fields.length, 'fields');
  let size = 2;
  for (const f of fields) size += cstrSize(f.name) + 18;
  const buf = allocMessage(BackendCode.RowDescription, size);
  let off = buf.writeUInt16BE(fields.length, 5);
  for (const f of fields) {
    off = putCString(buf, off, f.name);
    off = buf.writeUInt32BE(f.tableOid >>> 0, off);
    off = buf.writeInt16BE(f.columnAttr, off);
    off = buf.writeUInt32BE(f.typeOid >>> 0, off);
    off = buf.writeInt16BE(f.typeSize, off);
    off = buf.writeInt32BE(f.typeMod, off);
    off = buf.writeInt16BE(f.format, off);
  }
  return buf;
}

/** 'D' DataRow: Int16 n, n × (Int32 len (-1 = NULL), Byte[len]); strings are written as UTF-8 */
export function encodeDataRow(values: readonly (Buffer | string | null)[]): Buffer {
  checkCount(values.length, 'columns');
  let size = 2;
  for (const v of values) {
    size += 4;
    if (v !== null) size += typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length;
  }
  const buf = allocMessage(BackendCode.DataRow, size);
  let off = buf.writeUInt16BE(values.length, 5);
  for (const v of values) {
    if (v === null) {
      off = buf.writeInt32BE(-1, off);
    } else if (typeof v === 'string') {
      const written = buf.write(v, off + 4, 'utf8');
      buf.writeInt32BE(written, off);
      off += 4 + written;
    } else {
      off = buf.writeInt32BE(v.length, off);
      off += v.copy(buf, off);
    }
  }
  return buf;
}

/** 'C' CommandComplete: String tag */
export function encodeCommandComplete(tag: string): Buffer {
  const buf = allocMessage(BackendCode.CommandComplete, cstrSize(tag));
  putCString(buf, 5, tag);
  return buf;
}

/** 'I' EmptyQueryResponse */
export function encodeEmptyQueryResponse(): Buffer {
  return emptyMessage(BackendCode.EmptyQueryResponse);
}
