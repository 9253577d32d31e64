import { describe, expect, it } from 'vitest';
import { canonicalAddress, resolveDestination } from './forward-address.ts';

describe('forward destinations', () => {
  it('gives one canonical address for every way of writing it', async () => {
    for (const host of ['127.0.0.1', 'localhost', 'LOCALHOST.', '127.1', '0', '0.0.0.0', '2130706433', '0x7f.1', '0177.0.0.1', '::ffff:127.0.0.1', '[::ffff:127.0.0.1]', '::ffff:7f00:1']) {
      expect((await resolveDestination(host, 22)).address, host).toMatch(/^(127\.0\.0\.1|::1)$/);
    }
    expect((await resolveDestination('::', 22)).address).toBe('::1');
    expect((await resolveDestination('0:0:0:0:0:0:0:1', 22)).address).toBe('::1');
    expect((await resolveDestination('2001:DB8:0:0:0:0:0:1', 22)).address).toBe('2001:db8::1');
  });

  it('refuses what is neither an address nor a host name', async () => {
    await expect(resolveDestination('a b', 22)).rejects.toThrow();
    await expect(resolveDestination('no-such-host.invalid', 22)).rejects.toThrow();
    expect(canonicalAddress('example.com')).toBeUndefined();
  });
});
