import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PreAuth, PreAuthGate, sourceOf } from './pre-auth.ts';

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly remoteAddress: string) {
    super();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

const socket = (address: string) => new FakeSocket(address) as unknown as Socket & FakeSocket;

describe('sources', () => {
  it('an IPv4 address (also IPv4-mapped) is its own source; IPv6 counts per /64', () => {
    expect(sourceOf('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceOf('2001:0db8:0001:0002:ffff:1:2:3')).toBe('2001:db8:1:2::/64');
    expect(sourceOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceOf('::1')).toBe('0:0:0:0::/64');
  });
});

describe('the pre-auth gate', () => {
  it('refuses past the cap per source and in all, and frees a place when a connection authenticates or closes', () => {
    const gate = new PreAuthGate({ timeoutMs: 60_000, perSource: 2, total: 3 });
    const a1 = gate.admit(socket('10.0.0.1'));
    const a2 = gate.admit(socket('10.0.0.1'));
    expect(a1).toBeInstanceOf(PreAuth);
    expect(a2).toBeInstanceOf(PreAuth);
    expect(gate.admit(socket('10.0.0.1'))).toMatch(/too many connections from 10\.0\.0\.1/);
    const b = socket('2001:db8::5');
    expect(gate.admit(b)).toBeInstanceOf(PreAuth);
    expect(gate.admit(socket('10.0.0.2'))).toMatch(/^too many connections are not authenticated yet/);
    (a1 as PreAuth).passed();
    expect(gate.admit(socket('10.0.0.1'))).toBeInstanceOf(PreAuth);
    b.destroy();
    expect(gate.pending).toBe(2);
    expect(gate.admit(socket('2001:db8::6'))).toBeInstanceOf(PreAuth);
  });

  it('aborts at the deadline and destroys the socket shortly after', async () => {
    const gate = new PreAuthGate({ timeoutMs: 50, perSource: 5, total: 5 });
    const s = socket('10.0.0.3');
    const p = gate.admit(s) as PreAuth;
    await new Promise((r) => p.signal.addEventListener('abort', r));
    expect(() => p.passed()).toThrow(/not authenticated within 0\.05s/);
    expect(s.destroyed).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    expect(s.destroyed).toBe(true);
    expect(gate.pending).toBe(0);
  });
});
