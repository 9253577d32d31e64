/** PostgreSQL v3 wire-protocol codec: pure functions over Buffers, no I/O. */
export * from './codes.ts';
export * from './reader.ts';
export * from './frame-reader.ts';
export * from './startup.ts';
export * from './frontend.ts';
export * from './backend.ts';
export * from './scram.ts';
export { cstrSize, putCString, allocMessage, emptyMessage } from './writer.ts';
