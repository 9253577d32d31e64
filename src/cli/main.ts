import { isAirlockError, type ErrorCode } from '../core/errors.ts';
import { loadConfig } from '../config/load.ts';
import { stdio, type Io } from './args.ts';
import { cliFlags, describeSetup } from './local.ts';
import { connectCommand, HELP as connectHelp } from './connect.ts';
import { loginCommand, logoutCommand, HELP as loginHelp } from './login.ts';
import { demoCommand, HELP as demoHelp } from './demo.ts';
import { accessCommand, reviewsCommand, HELP as reviewsHelp } from './reviews.ts';
import { gatewayCommand, HELP as gatewayHelp } from './gateway.ts';
import { sessionsCommand, HELP as sessionsHelp } from './sessions.ts';
import { replayCommand, HELP as replayHelp } from './replay.ts';
import { eventsCommand, HELP as eventsHelp } from './events.ts';
import { tokensCommand, HELP as tokensHelp } from './tokens.ts';
import { sshKeysCommand, HELP as sshKeysHelp } from './ssh-keys.ts';
import { locksCommand, HELP as locksHelp } from './locks.ts';
import { whoamiCommand, HELP as whoamiHelp } from './whoami.ts';
import { verifyCommand, HELP as verifyHelp } from './verify.ts';
import { exportCommand, HELP as exportHelp } from './export.ts';
import { checkpointCommand, HELP as checkpointHelp } from './checkpoint.ts';

const HELP = `airlock — identity-aware access gateway

Usage: airlock <command> [options]   (every command takes --config FILE; default ./airlock.yaml or $AIRLOCK_CONFIG)
       --verbose (any command): one line on stderr naming the config and data dir it uses

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

\`airlock COMMAND --help\` describes a command and its subcommands.
Exit status: 0 done; 1 a check failed (verify found a break) or the command failed; 2 usage error;
3 not authenticated or not allowed; 4 not found (no such session, review, token, file); 5 configuration or
data dir problem (no airlock.yaml, no store here); 6 a listen address is in use; 141 output closed early (| head).
`;

/** Exit status per error class (the README lists them): scripts tell a typo from a refusal from a missing thing. */
export const EXIT = { ok: 0, failed: 1, usage: 2, auth: 3, notFound: 4, config: 5, addressInUse: 6, pipeClosed: 141 } as const;

const EXIT_OF: Partial<Record<ErrorCode, number>> = {
  AIRLOCK_ERR_USAGE: EXIT.usage,
  AIRLOCK_ERR_AUTH_FAILED: EXIT.auth,
  AIRLOCK_ERR_FORBIDDEN: EXIT.auth,
  AIRLOCK_ERR_NOT_FOUND: EXIT.notFound,
  AIRLOCK_ERR_UNKNOWN_CONNECTION: EXIT.notFound,
  AIRLOCK_ERR_CONFIG: EXIT.config,
};

type Command = (argv: string[], io: Io) => Promise<number>;

const HELPS: Record<string, string> = {
  gateway: gatewayHelp, login: loginHelp, logout: loginHelp, tokens: tokensHelp, 'ssh-keys': sshKeysHelp, locks: locksHelp,
  whoami: whoamiHelp, sessions: sessionsHelp, replay: replayHelp, events: eventsHelp, demo: demoHelp, verify: verifyHelp,
  export: exportHelp, checkpoint: checkpointHelp, connect: connectHelp, reviews: reviewsHelp, access: reviewsHelp,
};

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

/** The help footer: which config and data dir the command would use, resolved as it would resolve them. */
function setupFooter(name: string, flags: string[]): string {
  if (name === 'demo') return ''; // the demo brings its own config and data dir (its help says which)
  const i = flags.findIndex((f) => f === '--config' || f.startsWith('--config='));
  const path = i < 0 ? undefined : flags[i].startsWith('--config=') ? flags[i].slice('--config='.length) : flags[i + 1];
  try {
    return `\nUses: ${describeSetup(loadConfig(path, undefined, []))} (with these options, here).`;
  } catch (err) {
    return `\nUses: config ${path ?? 'from ./airlock.yaml or $AIRLOCK_CONFIG'}, which cannot be read here: ${(err as Error).message}`;
  }
}

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const leading = argv[0] === '--verbose'; // `airlock --verbose COMMAND …` as well as after the command
  const [name, ...all] = leading ? argv.slice(1) : argv;
  // --verbose is global: taken out before `--` so no command's own flags see it.
  const end = all.includes('--') ? all.indexOf('--') : all.length;
  const rest = all.filter((a, i) => i >= end || a !== '--verbose');
  cliFlags.verbose = leading || rest.length !== all.length;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(HELP);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.err(`unknown command: ${name}\n\n${HELP}`);
    return 2;
  }
  // --help (-h, or `help` as the subcommand) anywhere before `--` describes the command and does nothing else.
  const flags = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (flags.includes('--help') || flags.includes('-h') || flags[0] === 'help') {
    io.out(`${HELPS[name]}${setupFooter(name, flags)}`);
    return EXIT.ok;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    if (isAirlockError(err)) {
      io.err(`airlock ${name}: ${err.message}`);
      return EXIT_OF[err.code] ?? EXIT.failed;
    }
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code === 'EADDRINUSE') {
      io.err(`airlock ${name}: ${(err as Error).message.replace(/^listen /, '')}: another process (another gateway?) listens there; stop it or change listen in the config`);
      return EXIT.addressInUse;
    }
    if (code === 'EPIPE') return EXIT.pipeClosed;
    throw err;
  }
}
