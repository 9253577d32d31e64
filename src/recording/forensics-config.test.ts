import { describe, expect, it } from 'vitest';
import { forensicsSettings } from './forensics-config.ts';

describe('forensics.compactAfter', () => {
  it('defaults to ten minutes, takes a duration, and off turns compaction off', () => {
    expect(forensicsSettings({}).compactAfterMs).toBe(600_000);
    expect(forensicsSettings({ forensics: { compactAfter: '1h30m' } }).compactAfterMs).toBe(5_400_000);
    expect(forensicsSettings({ forensics: { compactAfter: 'off' } }).compactAfterMs).toBeNull();
    expect(() => forensicsSettings({ forensics: { compactAfter: 'soon' } })).toThrow(/invalid duration/);
  });
});
