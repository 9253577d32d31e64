import { describe, expect, it } from 'vitest';
import { noMasking, type ValueMasker } from '../../policy/connection-policies.ts';
import type { SessionRecorder } from '../../recording/recorder.ts';
import { StreamLog, incompleteTail } from './stream-log.ts';

function fakeRec() {
  const events: { type: string; data: Record<string, unknown>; searchText?: string }[] = [];
  const rec = { record: (type: string, data: Record<string, unknown>, o: { searchText?: string } = {}) => events.push({ type, data, searchText: o.searchText }) };
  return { rec: rec as unknown as SessionRecorder, events };
}

const upper: ValueMasker = { maskText: (t) => t.replace(/secret/g, '[masked]'), maskValue: (_c, v) => v, active: true };

describe('StreamLog', () => {
  it('coalesces chunks into one event per stream per interval, keeping stream order', async () => {
    const { rec, events } = fakeRec();
    const log = new StreamLog({ rec, masker: noMasking, maskCounts: {}, channel: 3, intervalMs: 20 });
    log.add('stdin', Buffer.from('l'));
    log.add('stdout', Buffer.from('l'));
    log.add('stdin', Buffer.from('s'));
    log.add('stdout', Buffer.from('s'));
    expect(events).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 40));
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['ssh.input', { channel: 3, data: 'ls' }],
      ['ssh.output', { channel: 3, stream: 'stdout', data: 'ls' }],
    ]);
  });

  it('flushes at the size threshold', () => {
    const { rec, events } = fakeRec();
    const log = new StreamLog({ rec, masker: noMasking, maskCounts: {}, channel: 1, maxChunk: 8 });
    log.add('stdout', Buffer.from('12345'));
    log.add('stdout', Buffer.from('6789'));
    expect(events).toHaveLength(1);
    expect(events[0].data.data).toBe('123456789');
    log.flush(true);
  });

  it('holds back a UTF-8 character split between chunks', () => {
    const { rec, events } = fakeRec();
    const log = new StreamLog({ rec, masker: noMasking, maskCounts: {}, channel: 1 });
    const euro = Buffer.from('€', 'utf8');
    log.add('stdout', Buffer.concat([Buffer.from('a'), euro.subarray(0, 2)]));
    log.flush();
    log.add('stdout', euro.subarray(2));
    log.flush();
    expect(events.map((e) => e.data.data)).toEqual(['a', '€']);
  });

  it('stores bytes that are not UTF-8 as base64, and masks text', () => {
    const { rec, events } = fakeRec();
    const log = new StreamLog({ rec, masker: upper, maskCounts: {}, channel: 1, indexed: true });
    log.add('stdout', Buffer.from([0xff, 0x00, 0xfe]));
    log.flush(true);
    log.add('stderr', Buffer.from('the secret is out'));
    log.flush(true);
    expect(events[0].data).toEqual({ channel: 1, stream: 'stdout', data: '/wD+', encoding: 'base64' });
    expect(events[1].data.data).toBe('the [masked] is out');
    expect(events[1].searchText).toBe('the [masked] is out');
  });

  it('indexes output for search only when asked to (recording.indexOutput)', () => {
    for (const indexed of [false, true]) {
      const { rec, events } = fakeRec();
      const log = new StreamLog({ rec, masker: noMasking, maskCounts: {}, channel: 1, indexed });
      log.add('stdout', Buffer.from('total 42'));
      log.flush(true);
      expect(events).toEqual([{ type: 'ssh.output', data: { channel: 1, stream: 'stdout', data: 'total 42' }, searchText: indexed ? 'total 42' : undefined }]);
    }
  });

  it('counts hidden input without storing it', () => {
    const { rec, events } = fakeRec();
    const log = new StreamLog({ rec, masker: noMasking, maskCounts: {}, channel: 1 });
    log.add('stdin', Buffer.from('hunter2'), true);
    log.flush(true);
    expect(events).toEqual([{ type: 'ssh.input', data: { channel: 1, data: '', hidden: 7 }, searchText: undefined }]);
    expect(JSON.stringify(events)).not.toContain('hunter2');
  });

  it('stops storing data at the limit but keeps counting', () => {
    const { rec, events } = fakeRec();
    const log = new StreamLog({ rec, masker: noMasking, maskCounts: {}, channel: 1, limit: 10 });
    log.add('stdout', Buffer.from('0123456'));
    log.add('stdout', Buffer.from('789abcdef'));
    log.add('stdout', Buffer.from('more'));
    log.flush(true);
    expect(events.map((e) => e.data.data).join('')).toBe('0123456789');
    expect(log.totals().stdout).toBe(20);
    expect(log.truncated()).toEqual(['stdout']);
  });
});

describe('incompleteTail', () => {
  it('finds a trailing partial sequence', () => {
    const b = Buffer.from('a€🙂', 'utf8');
    expect(incompleteTail(b)).toBe(b.length);
    expect(incompleteTail(b.subarray(0, b.length - 1))).toBe(4);
    expect(incompleteTail(b.subarray(0, 3))).toBe(1);
    expect(incompleteTail(Buffer.from('abc'))).toBe(3);
  });
});
