import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { ensurePrivateDir, makePrivateIfPresent, writePrivateFile } from '../core/private-files.js';
import { redactInLogs } from '../logger.js';

export interface Secrets {
  readonly apiKey: string;
  readonly adminApiKey: string;
  readonly jwtSecret: string;
  /** Where generated keys are kept, when any were generated. */
  readonly file: string | undefined;
  /** True when this start wrote the keys file. */
  readonly generated: boolean;
}

interface KeysFile {
  api_key: string;
  admin_api_key: string;
  jwt_secret_key: string;
}

const newKey = (prefix: string): string => `${prefix}_${randomBytes(24).toString('base64url')}`;

export const keysFilePath = (dataDir: string): string => path.join(dataDir, 'keys.json');

/**
 * Keys from the environment win; whatever is missing comes from `<DATA_DIR>/keys.json`, which the
 * first start generates with mode 0600. Every start path (serve, stdio, keys, tests) begins here,
 * so this is also where the data directory is made private (0700), whether or not it holds keys.
 * The resolved secrets are registered with the logger, which scrubs them from every line.
 */
export function resolveSecrets(config: Config): Secrets {
  ensurePrivateDir(config.dataDir, { narrowExisting: true });
  const secrets = readOrGenerate(config);
  redactInLogs([secrets.apiKey, secrets.adminApiKey, secrets.jwtSecret]);
  return secrets;
}

function readOrGenerate(config: Config): Secrets {
  if (config.apiKey && config.adminApiKey && config.jwtSecret) {
    return {
      apiKey: config.apiKey,
      adminApiKey: config.adminApiKey,
      jwtSecret: config.jwtSecret,
      file: undefined,
      generated: false,
    };
  }
  const file = keysFilePath(config.dataDir);
  let stored: KeysFile;
  let generated = false;
  if (existsSync(file)) {
    makePrivateIfPresent(file);
    stored = JSON.parse(readFileSync(file, 'utf8')) as KeysFile;
  } else {
    stored = { api_key: newKey('scs'), admin_api_key: newKey('scs_admin'), jwt_secret_key: newKey('jwt') };
    writeKeysFile(file, stored);
    generated = true;
  }
  return {
    apiKey: config.apiKey ?? stored.api_key,
    adminApiKey: config.adminApiKey ?? stored.admin_api_key,
    jwtSecret: config.jwtSecret ?? stored.jwt_secret_key,
    file,
    generated,
  };
}

export function writeKeysFile(file: string, keys: KeysFile): void {
  ensurePrivateDir(path.dirname(file), { narrowExisting: true });
  writePrivateFile(file, `${JSON.stringify(keys, null, 2)}\n`);
}

/** Replaces the generated keys (all tokens signed with the old secret stop working). */
export function rotateKeysFile(dataDir: string): KeysFile {
  const keys = { api_key: newKey('scs'), admin_api_key: newKey('scs_admin'), jwt_secret_key: newKey('jwt') };
  writeKeysFile(keysFilePath(dataDir), keys);
  return keys;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Constant-time comparison of two secrets of any length. */
export function secretEquals(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}
