/**
 * Superuser targets. A superuser can change anything a statement rule relies on (write the server's
 * configuration with COPY … TO a file and reload it, load a library with LOAD, run programs, read any file,
 * turn off logging…), so statement rules cannot contain it. PostgreSQL reports `is_superuser` as a
 * ParameterStatus at startup and again whenever it changes (SET ROLE, SET SESSION AUTHORIZATION); a session
 * on such a target is refused unless its connection says `allowSuperuser: true`.
 */
import { BackendCode } from './codec/codes.ts';
import { decodeParameterStatus } from './codec/backend.ts';
import type { Frame } from './codec/frame-reader.ts';

/** 'on', 'off', or undefined when the frames do not say (a server that does not report it is treated as a superuser). */
export function reportedSuperuser(frames: readonly Frame[]): string | undefined {
  let value: string | undefined;
  for (const f of frames) {
    if (f.code !== BackendCode.ParameterStatus) continue;
    const p = decodeParameterStatus(f.body);
    if (p.name === 'is_superuser') value = p.value;
  }
  return value;
}

/** Why a session on this target is refused, or undefined when it is not a superuser. */
export function superuserRefusal(frames: readonly Frame[]): string | undefined {
  const v = reportedSuperuser(frames);
  if (v === 'off') return undefined;
  return v === 'on'
    ? 'the target role is a superuser, which statement rules cannot contain; the connection must say allowSuperuser: true'
    : 'the target did not report whether its role is a superuser (is_superuser); the connection must say allowSuperuser: true';
}

export const SUPERUSER_WARNING =
  'connection target role is a PostgreSQL superuser: statement rules, masking and the recording cannot contain it (it can rewrite the server configuration, load code, read and write files); use a role without superuser';
