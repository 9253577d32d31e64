import type Database from 'better-sqlite3';

export type EventRow = [sessionId: string, seq: number, time: number, type: string, dataJson: string, hash: string, searchText: string | null, outcome: string | null];
export const COMPRESS_FROM: number;
export function createEventWriter(db: Database.Database): (rows: readonly EventRow[]) => void;
export function metaToken(field: 'u' | 'c' | 'p' | 'g', value: string): string;
