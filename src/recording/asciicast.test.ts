import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { KeyRing } from './keys.ts';
import { Recorder } from './recorder.ts';
import { silentLogger } from '../core/logger.ts';
import { asciicastLines } from './asciicast.ts';

describe('asciicast v2 export', () => {
  it('turns a recorded shell into header + timed output, resize and (optionally) input lines', async () => {
    const store = new SqliteStore(':memory:');
    const recorder = new Recorder(store, KeyRing.load(mkdtempSync(join(tmpdir(), 'cast-'))), silentLogger);
    const rec = await recorder.open({ protocol: 'ssh', connection: 'web-01', identity: { subject: 'alice', groups: ['ops'], kind: 'user', authMethod: 'ssh-key' }, clientAddress: '127.0.0.1:1' });
    rec.record('ssh.shell.start', { channel: 0, term: 'xterm', cols: 120, rows: 40 });
    rec.record('ssh.input', { channel: 0, data: 'ls\r' });
    rec.record('ssh.output', { channel: 0, stream: 'stdout', data: 'ls\r\nfile-a  file-b\r\n$ ' });
    rec.record('ssh.resize', { channel: 0, cols: 100, rows: 30 });
    rec.record('ssh.output', { channel: 0, stream: 'stdout', data: Buffer.from('\u00e9t\u00e9\r\n').toString('base64'), encoding: 'base64' });
    await rec.end('client_disconnected');
    const session = (await store.getSession(rec.id))!;
    const lines: string[] = [];
    for await (const l of asciicastLines(session, store.readEvents(rec.id))) lines.push(l);
    const [header, ...events] = lines.map((l) => JSON.parse(l));
    expect(header).toMatchObject({ version: 2, width: 120, height: 40 });
    expect(events.map((e) => e[1])).toEqual(['o', 'r', 'o']);
    expect(events[0][2]).toContain('file-a  file-b');
    expect(events[1][2]).toBe('100x30');
    expect(events[2][2]).toBe('été\r\n');
    for (let i = 1; i < events.length; i++) expect(events[i][0]).toBeGreaterThanOrEqual(events[i - 1][0]);
    const withInput: string[] = [];
    for await (const l of asciicastLines(session, store.readEvents(rec.id), { input: true })) withInput.push(l);
    expect(withInput.map((l) => JSON.parse(l)[1])).toContain('i');
  });
});
