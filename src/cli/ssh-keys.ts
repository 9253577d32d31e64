import { readFileSync } from 'node:fs';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { parsePublicKey } from '../protocols/ssh/keys.ts';
import { parse, str, type Io } from './args.ts';
import { localActor, withAdmin } from './local.ts';

export const HELP = `airlock ssh-keys add --subject S [--groups a,b] [--service] FILE.pub   register a public key to an identity
airlock ssh-keys list [--subject S] [--json]
airlock ssh-keys remove FINGERPRINT                                      (SHA256:…, as listed)
airlock ssh-keys hosts [--json]                                          target host keys trusted on first use
airlock ssh-keys forget-host HOST:PORT                                   trust the next key that target presents`;

/** SSH public keys that prove an identity to the gateway, and the target host keys it has pinned. */
export async function sshKeysCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    subject: { type: 'string' }, groups: { type: 'string' }, service: { type: 'boolean' }, json: { type: 'boolean' },
  });
  if (!sub || !['add', 'list', 'remove', 'hosts', 'forget-host'].includes(sub)) {
    io.err(HELP);
    return sub ? 2 : 0;
  }
  return withAdmin(str(values.config), async (admin, store) => {
    if (sub === 'add') {
      const subject = str(values.subject);
      const file = positionals[0];
      if (!subject || !file) throw new AirlockError(ErrorCodes.usage, `--subject and a public key file are required\n${HELP}`);
      if (!/^[^\s+@]{1,128}$/.test(subject)) throw new AirlockError(ErrorCodes.usage, 'subject must be 1-128 characters, without spaces, + or @');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new AirlockError(ErrorCodes.usage, `cannot read ${file}: ${(err as Error).message}`);
      }
      const key = parsePublicKey(text);
      const groups = [...new Set((str(values.groups) ?? '').split(',').map((g) => g.trim()).filter(Boolean))];
      await admin.addSshKey(localActor(), {
        fingerprint: key.fingerprint, subject, groups, kind: values.service === true ? 'service' : 'user', publicKey: key.line,
        createdAt: Date.now(), comment: key.comment || null,
      });
      io.err(`registered ${key.type} key for ${subject} (groups: ${groups.join(', ') || 'none'})`);
      io.out(key.fingerprint);
      return 0;
    }
    if (sub === 'list') {
      const keys = await store.listSshKeys(str(values.subject));
      if (values.json) {
        io.out(JSON.stringify(keys, null, 2));
        return 0;
      }
      io.out(['FINGERPRINT', 'SUBJECT', 'KIND', 'GROUPS', 'TYPE', 'ADDED', 'COMMENT'].join('\t'));
      for (const k of keys) {
        io.out([k.fingerprint, k.subject, k.kind, k.groups.join(',') || '-', k.publicKey.split(' ')[0], new Date(k.createdAt).toISOString(), k.comment ?? ''].join('\t'));
      }
      return 0;
    }
    if (sub === 'remove') {
      const fingerprint = positionals[0];
      if (!fingerprint) throw new AirlockError(ErrorCodes.usage, `fingerprint required\n${HELP}`);
      if (!(await admin.removeSshKey(localActor(), fingerprint))) {
        io.err(`no key ${fingerprint}`);
        return 1;
      }
      io.out(`removed ${fingerprint}; sessions it opened end within seconds`);
      return 0;
    }
    if (sub === 'hosts') {
      const hosts = await store.listSshHostKeys();
      if (values.json) {
        io.out(JSON.stringify(hosts, null, 2));
        return 0;
      }
      io.out(['TARGET', 'FINGERPRINT', 'TYPE', 'FIRST SEEN', 'CONNECTION'].join('\t'));
      for (const h of hosts) io.out([h.target, h.fingerprint, h.publicKey.split(' ')[0], new Date(h.firstSeenAt).toISOString(), h.connection].join('\t'));
      return 0;
    }
    const target = positionals[0];
    if (!target) throw new AirlockError(ErrorCodes.usage, `HOST:PORT required\n${HELP}`);
    if (!(await admin.forgetHostKey(localActor(), target))) {
      io.err(`no pinned host key for ${target}`);
      return 1;
    }
    io.out(`forgot the host key of ${target}; the next key it presents will be trusted`);
    return 0;
  });
}
