import type Database from 'better-sqlite3';

/** ROW_FIELDS values per event, one after another: sessionId, seq, time, type, dataJson, hash, searchText, outcome. */
export type EventRows = (string | number | null)[];
export const ROW_FIELDS: number;
export const COMPRESS_FROM: number;
export const NOT_INDEXED: string;
export function createEventWriter(db: Database.Database): (rows: EventRows) => void;
export function metaToken(field: 'u' | 'c' | 'p' | 'g', value: string): string;
export function sessionMeta(session: { subject: string; connection: string; protocol: string; groups: string | readonly string[] }): string;
