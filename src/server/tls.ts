import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { generate } from 'selfsigned';

export interface ServerTlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly context: SecureContext;
  readonly generated: boolean;
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
        extensions: [
          { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
        ],
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
