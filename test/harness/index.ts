export { freePort } from './ports.ts';
export { waitFor, waitForPort, canConnect } from './wait.ts';
export type { WaitOptions } from './wait.ts';
export {
  startPostgres,
  pgBinDir,
  runAsPostgres,
  runAsPostgresSync,
  chownToPostgres,
  postgresUserIds,
  makeServerCert,
  randomPassword,
  isRoot,
  run,
} from './postgres.ts';
export type { PgServer, StartPostgresOptions, ExecResult, RunOptions, UserCredentials } from './postgres.ts';
export { startPgBouncer, pgbouncerBin } from './pgbouncer.ts';
export type { PgBouncerServer, PgBouncerTarget } from './pgbouncer.ts';
export { startSshd, sshdBin, ensureSshTestUser, SSH_TEST_USER } from './sshd.ts';
export type { SshdServer } from './sshd.ts';
