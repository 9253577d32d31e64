import { lookup } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Where a forward really goes. A client names the destination as it likes (`localhost`, `127.1`, `0`,
 * `2130706433`, `::ffff:127.0.0.1` all reach 127.0.0.1 through the target's getaddrinfo), so rules are
 * decided on the address: the name is resolved once, here, and the target is asked to connect to exactly
 * that address. The unspecified addresses (0.0.0.0, ::) connect to the local host, so they count as
 * loopback, and IPv4-mapped IPv6 addresses as the IPv4 address they carry.
 */
export interface ForwardDestination {
  /** The name as the client sent it (lower-cased, without a trailing dot). */
  readonly name: string;
  /** The address the target will be asked to connect to (canonical text). */
  readonly address: string;
  readonly port: number;
}

/** Canonical text of an IP address, or undefined when `ip` is not one. */
export function canonicalAddress(ip: string): string | undefined {
  if (isIPv4(ip)) return ip === '0.0.0.0' ? '127.0.0.1' : ip;
  const zone = ip.indexOf('%');
  const bare = zone < 0 ? ip : ip.slice(0, zone);
  if (!isIPv6(bare)) return undefined;
  const words = ipv6Words(bare);
  // ::ffff:a.b.c.d (IPv4-mapped) is that IPv4 address.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return canonicalAddress([words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.'));
  }
  if (words.every((w) => w === 0)) return '::1';
  return compressIPv6(words) + (zone < 0 ? '' : ip.slice(zone));
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** `HOST:PORT` as rules see it, IPv6 in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Resolves the client's destination once; throws when it cannot be resolved (the forward is refused). */
export async function resolveDestination(host: string, port: number): Promise<ForwardDestination> {
  const name = host.toLowerCase().replace(/\.$/, '');
  const literal = canonicalAddress(name.replace(/^\[(.*)\]$/, '$1'));
  if (literal) return { name, address: literal, port };
  if (!name || name.length > 253 || !/^[a-z0-9._-]+$/.test(name)) throw new Error(`not a host name or address: ${JSON.stringify(host)}`);
  // IPv4 first, as the rules are most often written (`localhost` is 127.0.0.1, not ::1).
  const found = await lookup(name, { verbatim: false });
  const address = canonicalAddress(found.address);
  if (!address) throw new Error(`${name} resolved to ${found.address}, which is not an address`);
  return { name, address, port };
}

/** What the policy decides on: the address, and the name too when the client gave one. */
export function policyTexts(d: ForwardDestination): string[] {
  const texts = [hostPort(d.address, d.port)];
  if (canonicalAddress(d.name.replace(/^\[(.*)\]$/, '$1')) === undefined) texts.push(hostPort(d.name, d.port));
  return texts;
}

/** Every address `host` stands for (a connection's own target). */
export async function addressesOf(host: string): Promise<Set<string>> {
  const literal = canonicalAddress(host.replace(/^\[(.*)\]$/, '$1'));
  if (literal) return new Set([literal]);
  try {
    const all = await lookup(host, { all: true, verbatim: true });
    return new Set(all.map((a) => canonicalAddress(a.address)).filter((a): a is string => a !== undefined));
  } catch {
    return new Set();
  }
}

function ipv6Words(ip: string): number[] {
  let text = ip;
  // A trailing dotted quad stands for the last two words.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const b = quad[1]!.split('.').map(Number);
    text = text.slice(0, -quad[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':').map((w) => parseInt(w, 16)) : [];
  const t = tail ? tail.split(':').map((w) => parseInt(w, 16)) : [];
  const fill = tail === undefined ? [] : new Array<number>(8 - h.length - t.length).fill(0);
  return [...h, ...fill, ...t];
}

/** RFC 5952 text: lower case, the longest run of zero words (two or more) as `::`. */
function compressIPv6(words: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
