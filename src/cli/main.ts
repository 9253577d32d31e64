import { isAirlockError } from '../core/errors.ts';
import { stdio, type Io } from './args.ts';
import { connectCommand } from './connect.ts';
import { loginCommand, logoutCommand } from './login.ts';
import { demoCommand } from './demo.ts';
import { accessCommand, reviewsCommand } from './reviews.ts';
import { gatewayCommand } from './gateway.ts';
import { sessionsCommand } from './sessions.ts';
import { replayCommand } from './replay.ts';
import { eventsCommand } from './events.ts';
import { tokensCommand } from './tokens.ts';
import { sshKeysCommand } from './ssh-keys.ts';
import { locksCommand } from './locks.ts';
import { whoamiCommand } from './whoami.ts';
import { verifyCommand } from './verify.ts';
import { exportCommand } from './export.ts';
import { checkpointCommand } from './checkpoint.ts';

const HELP = `airlock — identity-aware access gateway

Usage: airlock <command> [options]   (every command takes --config FILE; default ./airlock.yaml or $AIRLOCK_CONFIG)

  gateway                         run the gateway
  login [--device] / logout       log in at the identity provider (browser or device code); the session acts as you
  whoami                          your subject, groups and roles as the gateway resolves them
  tokens issue|list|revoke        gateway-issued access tokens
  ssh-keys add|list|remove|hosts  SSH public keys that prove an identity; pinned target host keys
  sessions list|show|kill         recorded sessions: who did what, when; end a live one
  locks add|list|remove           lock an identity out everywhere (its live sessions end)
  replay ID [--speed N] [--step]  play a recorded session; --exec --to SANDBOX re-runs its statements
  events [--since 1h] [--follow]  every session's events for a SIEM (--format jsonl|ocsf)
  reviews list|approve|deny       the review queue (acts as you: airlock login, --token or AIRLOCK_TOKEN)
  access request CONNECTION       ask for time-boxed access to a connection
  connect CONNECTION [--port N]   local port for unmodified clients, as the logged-in identity
  demo                            throwaway PostgreSQL behind a gateway, with a token and a psql line
  verify [ID…] [--bundle FILE]    check recordings, seals and the ledger for tampering (exit 1 on any break)
  export ID… --out FILE           signed evidence bundle, verifiable offline
  checkpoint                      sign and publish the ledger head now
`;

type Command = (argv: string[], io: Io) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  gateway: gatewayCommand,
  login: loginCommand,
  logout: logoutCommand,
  tokens: tokensCommand,
  'ssh-keys': sshKeysCommand,
  locks: locksCommand,
  whoami: whoamiCommand,
  sessions: sessionsCommand,
  replay: replayCommand,
  events: eventsCommand,
  demo: demoCommand,
  verify: verifyCommand,
  export: exportCommand,
  checkpoint: checkpointCommand,
  connect: connectCommand,
  reviews: reviewsCommand,
  access: accessCommand,
};

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(HELP);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.err(`unknown command: ${name}\n\n${HELP}`);
    return 2;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    if (isAirlockError(err)) {
      io.err(`airlock ${name}: ${err.message}`);
      return err.code === 'AIRLOCK_ERR_USAGE' ? 2 : 1;
    }
    throw err;
  }
}
