import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { configSchema, type Config } from './schema.ts';

export interface LoadedConfig {
  readonly config: Config;
  /** The file it came from, or undefined for the built-in default. */
  readonly path: string | undefined;
  /** dataDir resolved to an absolute path. */
  readonly dataDir: string;
}

const REF = /\$\{(env|file):([^}]+)\}/g;

/** Replaces `${env:NAME}` and `${file:PATH}` (relative to the config file) in every string value. */
export function resolveRefs(value: unknown, baseDir: string, where = '', skip: (where: string) => boolean = () => false): unknown {
  if (skip(where)) return value;
  if (typeof value === 'string') {
    return value.replace(REF, (_m, kind: string, ref: string) => {
      if (kind === 'env') {
        const v = process.env[ref];
        if (v === undefined) throw new AirlockError(ErrorCodes.config, `${where}: environment variable ${ref} is not set`);
        return v;
      }
      const p = isAbsolute(ref) ? ref : resolve(baseDir, ref);
      try {
        return readFileSync(p, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new AirlockError(ErrorCodes.config, `${where}: cannot read file ${ref}`, { cause: err });
      }
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveRefs(v, baseDir, `${where}[${i}]`, skip));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveRefs(v, baseDir, where ? `${where}.${k}` : k, skip);
    return out;
  }
  return value;
}

/**
 * Which connections' `${env:…}`/`${file:…}` references are read: all (the gateway serves them all), or only the
 * named ones (a CLI command that uses none, or one). The others keep the reference text unread: whoever issues
 * tokens or reads recordings never needs, nor touches, a target's password.
 */
export type ConnectionSecrets = 'all' | readonly string[];

export function parseConfig(raw: unknown, baseDir: string, secrets: ConnectionSecrets = 'all'): Config {
  const conns = secrets === 'all' ? {} : ((raw as { connections?: unknown } | null)?.connections ?? {});
  const unused = new Set(typeof conns === 'object' ? Object.keys(conns as object).filter((n) => !secrets.includes(n)).map((n) => `connections.${n}`) : []);
  const resolved = resolveRefs(raw ?? {}, baseDir, '', (where) => unused.has(where));
  const result = configSchema.safeParse(resolved);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new AirlockError(ErrorCodes.config, `invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/**
 * Loads `--config FILE`, else `AIRLOCK_CONFIG`, else `./airlock.yaml` when present, else defaults.
 * `AIRLOCK_DATA_DIR` overrides dataDir.
 */
export function loadConfig(explicitPath?: string, cwd = process.cwd(), secrets: ConnectionSecrets = 'all'): LoadedConfig {
  const candidate = explicitPath ?? process.env.AIRLOCK_CONFIG;
  let path: string | undefined;
  let raw: unknown = {};
  if (candidate) {
    path = resolve(cwd, candidate);
    if (!existsSync(path)) throw new AirlockError(ErrorCodes.config, `config file not found: ${candidate}`);
  } else if (existsSync(resolve(cwd, 'airlock.yaml'))) {
    path = resolve(cwd, 'airlock.yaml');
  }
  const baseDir = path ? dirname(path) : cwd;
  if (path) {
    try {
      raw = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new AirlockError(ErrorCodes.config, `cannot parse ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  const config = parseConfig(raw, baseDir, secrets);
  const dataDir = resolve(baseDir, process.env.AIRLOCK_DATA_DIR ?? config.dataDir);
  return { config, path, dataDir };
}

export function parseListen(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) return { host: '127.0.0.1', port: Number(address) };
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}
