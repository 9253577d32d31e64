#!/usr/bin/env node
// Entry point: runs the TypeScript sources directly through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

// Output piped to a reader that stopped (`| head`): stop quietly, with the status a shell gives a process that
// SIGPIPE ended, instead of a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(141);
    throw err;
  });
}
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
