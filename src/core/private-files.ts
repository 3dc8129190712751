import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';

/** Only the user running the server may read what it keeps: keys, the database, the runtime file. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

const STICKY = 0o1000;

/**
 * Makes `dir` exist with mode 0700. A directory created here is always 0700; an existing one is
 * narrowed to 0700 only when `narrowExisting` — and never when it belongs to another user or is a
 * shared sticky directory such as /tmp (DATA_DIR=/tmp must not lock everyone else out).
 * Returns true when this call created the directory. Does not rely on the process umask.
 */
export function ensurePrivateDir(dir: string, options: { narrowExisting: boolean }): boolean {
  const created = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE }) !== undefined;
  if (created) {
    chmodSync(dir, PRIVATE_DIR_MODE);
    return true;
  }
  if (options.narrowExisting) {
    const stat = statSync(dir);
    const mine = process.getuid === undefined || stat.uid === process.getuid();
    if (mine && (stat.mode & STICKY) === 0 && (stat.mode & 0o077) !== 0) chmodSync(dir, PRIVATE_DIR_MODE);
  }
  return false;
}

/** Narrows an existing file to 0600 (files left readable by an older version or another umask). */
export function makePrivateIfPresent(file: string): void {
  if (!existsSync(file)) return;
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, PRIVATE_FILE_MODE);
}

/** Creates `file` empty with mode 0600 when missing, and narrows it to 0600 when present. */
export function touchPrivateFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  makePrivateIfPresent(file);
}

/**
 * Writes `text` to `file` with mode 0600 from its first byte: a temporary file beside it, then a
 * rename, so a reader never sees a partial file and a looser old file's mode is not inherited.
 */
export function writePrivateFile(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: PRIVATE_FILE_MODE });
  chmodSync(temporary, PRIVATE_FILE_MODE);
  renameSync(temporary, file);
}
