import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { generate } from 'selfsigned';

export interface ServerTlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly context: SecureContext;
  readonly generated: boolean;
}

/**
 * Names for the generated certificate: localhost and the loopback addresses, this host's name, and the addresses
 * of its interfaces when it is generated, so that a client elsewhere can verify it (`sslmode=verify-full` with
 * the certificate as its root) after copying it once.
 */
export function hostAltNames(): ({ type: 2; value: string } | { type: 7; ip: string })[] {
  const dns = new Set(['localhost', hostname()]);
  const ips = new Set(['127.0.0.1', '::1']);
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      // Link-local IPv6 addresses need a zone to be used at all; nobody connects to those by name.
      if (!a.internal && !(a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:'))) ips.add(a.address);
    }
  }
  return [...[...dns].filter(Boolean).map((value) => ({ type: 2 as const, value })), ...[...ips].map((ip) => ({ type: 7 as const, ip }))];
}

/** The configured certificate, or a self-signed one generated once into `<dataDir>/tls/`. */
export async function loadServerTls(dataDir: string, configured?: { cert: string; key: string }): Promise<ServerTlsMaterial> {
  let cert: string;
  let key: string;
  let generated = false;
  if (configured) {
    cert = configured.cert.includes('-----BEGIN') ? configured.cert : readFileSync(configured.cert, 'utf8');
    key = configured.key.includes('-----BEGIN') ? configured.key : readFileSync(configured.key, 'utf8');
  } else {
    const dir = join(dataDir, 'tls');
    const certFile = join(dir, 'gateway.crt');
    const keyFile = join(dir, 'gateway.key');
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const notAfter = new Date();
      notAfter.setFullYear(notAfter.getFullYear() + 2);
      const pems = await generate([{ name: 'commonName', value: 'airlock-gateway' }], {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        notAfterDate: notAfter,
        extensions: [{ name: 'subjectAltName', altNames: hostAltNames() }],
      });
      writeFileSync(keyFile, pems.private, { mode: 0o600 });
      writeFileSync(certFile, pems.cert);
      generated = true;
    }
    cert = readFileSync(certFile, 'utf8');
    key = readFileSync(keyFile, 'utf8');
  }
  return { cert, key, context: createSecureContext({ cert, key, minVersion: 'TLSv1.2' }), generated };
}
