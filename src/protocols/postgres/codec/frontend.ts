/**
 * Client → server messages: decoders take a Frame body (after the Int32 length), encoders return whole messages.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { ProtocolError } from '../../../core/errors.ts';
import { CANCEL_REQUEST, FrontendCode, PROTOCOL_3, SSL_REQUEST } from './codes.ts';
import { BufferReader } from './reader.ts';
import { allocMessage, checkCount, cstrSize, emptyMessage, putCString } from './writer.ts';

export type DescribeKind = 'S' | 'P';

export interface BindMessage {
  portal: string;
  statement: string;
  paramFormats: number[];
  params: (Buffer | null)[];
  resultFormats: number[];
}

// ---- decoders --------------------------------------------------------------------------------

/** Query: String text */
export function decodeQuery(body: Buffer): { text: string } {
  const r = new BufferReader(body, 'Query');
  const text = r.cstring();
  r.end();
  return { text };
}

/** Query's text as the bytes the client sent: the server reads them in its client_encoding, which may not be UTF-8. */
export function decodeQueryBytes(body: Buffer): Buffer {
  const r = new BufferReader(body, 'Query');
  const text = r.cstringBytes();
  r.end();
  return text;
}

/** Parse: String name, String text, Int16 n, Int32[n] parameter type OIDs */
export function decodeParse(body: Buffer): { name: string; text: string; paramTypes: number[] } {
  const p = decodeParseBytes(body);
  return { ...p, text: p.text.toString('utf8') };
}

/** Parse, with the statement text as raw bytes (see decodeQueryBytes). */
export function decodeParseBytes(body: Buffer): { name: string; text: Buffer; paramTypes: number[] } {
  const r = new BufferReader(body, 'Parse');
  const name = r.cstring();
  const text = r.cstringBytes();
  const n = r.uint16();
  if (n * 4 !== r.remaining) throw r.fail();
  const paramTypes = new Array<number>(n);
  for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
  return { name, text, paramTypes };
}

/**
 * Bind: String portal, String statement, Int16 nf, Int16[nf] formats, Int16 np,
 * np × (Int32 len (-1 = NULL), Byte[len]), Int16 nr, Int16[nr] result formats
 */
export function decodeBind(body: Buffer): BindMessage {
  const r = new BufferReader(body, 'Bind');
  const portal = r.cstring();
  const statement = r.cstring();
  const paramFormats = readInt16Array(r);
  const np = r.uint16();
  if (np * 4 > r.remaining) throw r.fail();
  const params = new Array<Buffer | null>(np);
  for (let i = 0; i < np; i++) {
    const len = r.int32();
    if (len < -1) throw r.fail();
    params[i] = len === -1 ? null : r.bytes(len);
  }
  const resultFormats = readInt16Array(r);
  r.end();
  return { portal, statement, paramFormats, params, resultFormats };
}

/** Execute: String portal, Int32 max rows (0 = no limit) */
export function decodeExecute(body: Buffer): { portal: string; maxRows: number } {
  const r = new BufferReader(body, 'Execute');
  const portal = r.cstring();
  const maxRows = r.int32();
  r.end();
  return { portal, maxRows };
}

/** Describe: Byte1 'S'|'P', String name */
export function decodeDescribe(body: Buffer): { kind: DescribeKind; name: string } {
  return decodeTarget(body, 'Describe');
}

/** Close: Byte1 'S'|'P', String name */
export function decodeClose(body: Buffer): { kind: DescribeKind; name: string } {
  return decodeTarget(body, 'Close');
}

/** PasswordMessage: String password (cleartext or 'md5…' hash) */
export function decodePassword(body: Buffer): string {
  const r = new BufferReader(body, 'PasswordMessage');
  const password = r.cstring();
  r.end();
  return password;
}

/** SASLInitialResponse: String mechanism, Int32 len (-1 = none), Byte[len] */
export function decodeSaslInitialResponse(body: Buffer): { mechanism: string; data: Buffer | null } {
  const r = new BufferReader(body, 'SASLInitialResponse');
  const mechanism = r.cstring();
  const len = r.int32();
  if (len < -1) throw r.fail();
  const data = len === -1 ? null : r.bytes(len);
  r.end();
  return { mechanism, data };
}

/** CopyFail: String message */
export function decodeCopyFail(body: Buffer): { message: string } {
  const r = new BufferReader(body, 'CopyFail');
  const message = r.cstring();
  r.end();
  return { message };
}

function decodeTarget(body: Buffer, what: string): { kind: DescribeKind; name: string } {
  const r = new BufferReader(body, what);
  const kind = r.uint8();
  if (kind !== 0x53 && kind !== 0x50) throw r.fail();
  const name = r.cstring();
  r.end();
  return { kind: kind === 0x53 ? 'S' : 'P', name };
}

function readInt16Array(r: BufferReader): number[] {
  const n = r.uint16();
  if (n * 2 > r.remaining) throw r.fail();
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = r.int16();
  return out;
}

// ---- encoders --------------------------------------------------------------------------------

/** StartupMessage for protocol 3.0: Int32 len, Int32 196608, (String name, String value)*, Byte1 0 */
export function encodeStartup(params: Record<string, string> | Map<string, string>): Buffer {
  const entries = params instanceof Map ? [...params] : Object.entries(params);
  let size = 8 + 1;
  for (const [k, v] of entries) size += cstrSize(k) + cstrSize(v);
  const buf = Buffer.allocUnsafe(size);
  buf.writeInt32BE(size, 0);
  buf.writeInt32BE(PROTOCOL_3, 4);
  let off = 8;
  for (const [k, v] of entries) off = putCString(buf, putCString(buf, off, k), v);
  buf[off] = 0;
  return buf;
}

/** SSLRequest: Int32 8, Int32 80877103 */
export function encodeSslRequest(): Buffer {
  const buf = Buffer.allocUnsafe(8);
  buf.writeInt32BE(8, 0);
  buf.writeInt32BE(SSL_REQUEST, 4);
  return buf;
}

/** CancelRequest: Int32 16, Int32 80877102, Int32 pid, Int32 secret (signed or unsigned 32-bit accepted) */
export function encodeCancelRequest(pid: number, secret: number): Buffer {
  const buf = Buffer.allocUnsafe(16);
  buf.writeInt32BE(16, 0);
  buf.writeInt32BE(CANCEL_REQUEST, 4);
  buf.writeUInt32BE(pid >>> 0, 8);
  buf.writeUInt32BE(secret >>> 0, 12);
  return buf;
}

/** 'p' PasswordMessage: String password */
export function encodePassword(text: string): Buffer {
  return cstringMessage(FrontendCode.Password, text);
}

/** 'p' SASLInitialResponse: String mechanism, Int32 len, Byte[len] */
export function encodeSaslInitialResponse(mechanism: string, data: Buffer): Buffer {
  const buf = allocMessage(FrontendCode.Password, cstrSize(mechanism) + 4 + data.length);
  const off = putCString(buf, 5, mechanism);
  buf.writeInt32BE(data.length, off);
  data.copy(buf, off + 4);
  return buf;
}

/** 'p' SASLResponse: Byte[n] */
export function encodeSaslResponse(data: Buffer): Buffer {
  const buf = allocMessage(FrontendCode.Password, data.length);
  data.copy(buf, 5);
  return buf;
}

/** 'Q' Query: String text */
export function encodeQuery(text: string): Buffer {
  return cstringMessage(FrontendCode.Query, text);
}

/** 'P' Parse: String name, String text, Int16 n, Int32[n] type OIDs (0 = unspecified) */
export function encodeParse(name: string, text: string, paramTypes: readonly number[] = []): Buffer {
  checkCount(paramTypes.length, 'parameter types');
  const buf = allocMessage(FrontendCode.Parse, cstrSize(name) + cstrSize(text) + 2 + 4 * paramTypes.length);
  let off = putCString(buf, putCString(buf, 5, name), text);
  off = buf.writeUInt16BE(paramTypes.length, off);
  for (const oid of paramTypes) off = buf.writeUInt32BE(oid >>> 0, off);
  return buf;
}

/**
 * 'B' Bind. One format code per parameter (1 = binary for Buffers, 0 = text for strings and NULLs),
 * then `resultFormats` (default: one code, 0 = all text), matching node-postgres.
 */
export function encodeBind(
  portal: string,
  statement: string,
  params: readonly (Buffer | string | null)[],
  resultFormats: readonly number[] = [0],
): Buffer {
  const n = params.length;
  checkCount(n, 'parameters');
  checkCount(resultFormats.length, 'result formats');
  let size = cstrSize(portal) + cstrSize(statement) + 2 + 2 * n + 2 + 2 + 2 * resultFormats.length;
  for (const p of params) {
    size += 4;
    if (p === null) continue;
    size += typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.length;
  }
  const buf = allocMessage(FrontendCode.Bind, size);
  let off = putCString(buf, putCString(buf, 5, portal), statement);
  off = buf.writeUInt16BE(n, off);
  for (const p of params) off = buf.writeInt16BE(p !== null && typeof p !== 'string' ? 1 : 0, off);
  off = buf.writeUInt16BE(n, off);
  for (const p of params) {
    if (p === null) {
      off = buf.writeInt32BE(-1, off);
    } else if (typeof p === 'string') {
      const written = buf.write(p, off + 4, 'utf8');
      buf.writeInt32BE(written, off);
      off += 4 + written;
    } else {
      off = buf.writeInt32BE(p.length, off);
      off += p.copy(buf, off);
    }
  }
  off = buf.writeUInt16BE(resultFormats.length, off);
  for (const f of resultFormats) off = buf.writeInt16BE(f, off);
  return buf;
}

/** 'E' Execute: String portal, Int32 max rows (0 = no limit) */
export function encodeExecute(portal: string, maxRows: number): Buffer {
  const buf = allocMessage(FrontendCode.Execute, cstrSize(portal) + 4);
  buf.writeUInt32BE(maxRows >>> 0, putCString(buf, 5, portal));
  return buf;
}

/** 'D' Describe: Byte1 'S'|'P', String name */
export function encodeDescribe(kind: DescribeKind, name: string): Buffer {
  return targetMessage(FrontendCode.Describe, kind, name);
}

/** 'C' Close: Byte1 'S'|'P', String name */
export function encodeClose(kind: DescribeKind, name: string): Buffer {
  return targetMessage(FrontendCode.Close, kind, name);
}

/** 'd' CopyData: Byte[n] */
export function encodeCopyData(data: Buffer): Buffer {
  const buf = allocMessage(FrontendCode.CopyData, data.length);
  data.copy(buf, 5);
  return buf;
}

/** 'f' CopyFail: String message */
export function encodeCopyFail(message: string): Buffer {
  return cstringMessage(FrontendCode.CopyFail, message);
}

/** 'c' CopyDone */
export function encodeCopyDone(): Buffer {
  return emptyMessage(FrontendCode.CopyDone);
}

/** 'S' Sync */
export function encodeSync(): Buffer {
  return emptyMessage(FrontendCode.Sync);
}

/** 'H' Flush */
export function encodeFlush(): Buffer {
  return emptyMessage(FrontendCode.Flush);
}

/** 'X' Terminate */
export function encodeTerminate(): Buffer {
  return emptyMessage(FrontendCode.Terminate);
}

function cstringMessage(code: number, text: string): Buffer {
  const buf = allocMessage(code, cstrSize(text));
  putCString(buf, 5, text);
  return buf;
}

function targetMessage(code: number, kind: DescribeKind, name: string): Buffer {
  if (kind !== 'S' && kind !== 'P') throw new ProtocolError(`invalid describe kind ${String(kind)}`);
  const buf = allocMessage(code, 1 + cstrSize(name));
  buf[5] = kind === 'S' ? 0x53 : 0x50;
  putCString(buf, 6, name);
  return buf;
}
