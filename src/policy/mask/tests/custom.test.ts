import { describe, expect, it } from 'vitest';
import { compileMasker } from '../index.ts';

describe('custom RE2 detectors', () => {
  it('masks matches under their own kind and label', () => {
    const m = compileMasker({ kinds: ['email'], custom: [{ name: 'employee_id', pattern: 'EMP-\\d{6}' }] });
    const counts = {};
    expect(m.maskText('EMP-123456 mailed a@example.com', counts)).toBe('[EMPLOYEE_ID] mailed [EMAIL]');
    expect(counts).toEqual({ employee_id: 1, email: 1 });
    expect(m.maskValue('notes', 'EMP-12345')).toBe('EMP-12345');
  });

  it('may be listed in kinds and combines with strategies', () => {
    const m = compileMasker({
      kinds: ['ticket'],
      custom: [{ name: 'ticket', pattern: '(?i)tkt[0-9]+' }],
      strategy: 'hash',
      sessionKey: Buffer.from('k'),
    });
    const out = m.maskText('TKT42 and tkt42');
    expect(out).toMatch(/^\[TICKET:[0-9a-f]{8}\] and \[TICKET:[0-9a-f]{8}\]$/);
    expect(out.slice(0, 16)).not.toBe(out.slice(-16)); // different text, different hash
  });

  it('finds matches beyond the BMP with correct offsets', () => {
    const m = compileMasker({ kinds: [], custom: [{ name: 'code', pattern: 'C\\d{3}' }] });
    expect(m.maskText('😀 C123 é C456')).toBe('😀 [CODE] é [CODE]');
  });

  it.each([
    ['(?<=a)b', /not valid RE2 syntax/],
    ['(a)\\1', /not valid RE2 syntax/],
    ['(unclosed', /not valid RE2 syntax/],
    ['x*', /matches the empty string/],
  ])('rejects %j with a clear error', (pattern, message) => {
    expect(() => compileMasker({ kinds: [], custom: [{ name: 'bad', pattern }] })).toThrow(message);
  });

  it('names the detector in the error', () => {
    expect(() => compileMasker({ kinds: [], custom: [{ name: 'lookbehind', pattern: '(?<!x)y' }] })).toThrow(
      /custom detector 'lookbehind'/,
    );
  });

  it('stays linear on a catastrophic-backtracking pattern', () => {
    const m = compileMasker({ kinds: [], custom: [{ name: 'evil', pattern: '(a+)+$' }] });
    const input = `${'a'.repeat(100_000)}!`;
    const t0 = performance.now();
    expect(m.maskText(input)).toBe(input);
    expect(performance.now() - t0).toBeLessThan(1000);
    // The same pattern in V8's backtracking engine would take exponential time on this input.
    expect(m.maskText('aaaa')).toBe('[EVIL]');
  });
});
