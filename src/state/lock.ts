/**
 * An exclusive lock file next to the state (`<path>.lock`). It names its owner by pid, boot and
 * process start time, and appears complete in one step (written to a temporary file, then
 * hard-linked into place), so another process never reads it half-written. A lock whose owner is
 * gone — no such process, another boot, or the pid now belongs to a different process — is taken
 * over.
 */
import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { ShipperError } from '../errors.js';

export class StateLockedError extends ShipperError {
  constructor(
    readonly lockPath: string,
    readonly holderPid: number,
    what: string,
  ) {
    super(
      'ERR_STATE_LOCKED',
      `${what} is in use by another cf-access-shipper process (pid ${holderPid}, lock file ${lockPath}); stop that process first, or use a different path`,
    );
  }
}

/** An empty lock (written by an older release, which created it empty and then wrote the pid) this young is still being written. */
const EMPTY_LOCK_GRACE_MS = 5_000;

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function bootId(): string {
  return readOrEmpty('/proc/sys/kernel/random/boot_id') || '-';
}

/** The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or '-'. */
function startTime(pid: number): string {
  const stat = readOrEmpty(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may hold spaces: count from its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? '-';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LockOwner {
  pid: number;
  boot: string | undefined;
  start: string | undefined;
}

export function parseLock(text: string): LockOwner | undefined {
  const [pid, boot, start] = text.trim().split(/\s+/);
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return undefined;
  return { pid: n, boot, start };
}

/** Whether the process a lock names still runs (the same process, not a later one with its pid). */
export function ownerRuns(owner: LockOwner): boolean {
  if (owner.boot !== undefined && owner.boot !== '-' && bootId() !== '-' && owner.boot !== bootId()) return false;
  if (!isAlive(owner.pid)) return false;
  if (owner.start !== undefined && owner.start !== '-') {
    const now = startTime(owner.pid);
    if (now !== '-' && now !== owner.start) return false;
  }
  return true;
}

export interface StateLock {
  readonly path: string;
  release(): void;
}

/** Locks this process holds: a lock file naming our own pid is ours only if it is listed here. */
const held = new Set<string>();

export function acquireLock(lockPath: string, what = 'the state'): StateLock {
  if (held.has(lockPath)) throw new StateLockedError(lockPath, process.pid, what);
  const content = `${process.pid} ${bootId()} ${startTime(process.pid)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const tmp = `${lockPath}.${process.pid}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, content);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      linkSync(tmp, lockPath); // atomic: fails with EEXIST while another holds the lock
      rmSync(tmp, { force: true });
      let released = false;
      held.add(lockPath);
      return {
        path: lockPath,
        release() {
          if (released) return;
          released = true;
          held.delete(lockPath);
          if (readOrEmpty(lockPath) === content.trim()) rmSync(lockPath, { force: true });
        },
      };
    } catch (error) {
      rmSync(tmp, { force: true });
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ShipperError(
          'ERR_STATE_LOCK',
          `cannot create the lock file ${lockPath} (${(error as Error).message}); check that the state directory exists and is writable`,
          { cause: error },
        );
      }
    }
    const text = readOrEmpty(lockPath);
    const owner = parseLock(text);
    if (owner === undefined) {
      let age: number;
      try {
        age = Date.now() - statSync(lockPath).mtimeMs;
      } catch {
        continue; // removed meanwhile: try again
      }
      if (text === '' && age < EMPTY_LOCK_GRACE_MS) throw new StateLockedError(lockPath, 0, what);
    } else if (owner.pid !== process.pid && ownerRuns(owner)) {
      throw new StateLockedError(lockPath, owner.pid, what);
    }
    // Stale: its owner is gone (our own pid in a lock we do not hold was left by an earlier
    // process with the same pid, PID 1 in a container). Moved aside first and checked, so that a
    // lock another process took over meanwhile is put back, not deleted.
    const aside = `${lockPath}.${process.pid}.stale`;
    try {
      renameSync(lockPath, aside);
    } catch {
      continue; // gone already
    }
    if (readOrEmpty(aside) !== text) {
      try {
        linkSync(aside, lockPath);
      } catch {
        // Someone holds a newer lock already.
      }
      rmSync(aside, { force: true });
      throw new StateLockedError(lockPath, parseLock(readOrEmpty(lockPath))?.pid ?? 0, what);
    }
    rmSync(aside, { force: true });
  }
  throw new ShipperError('ERR_STATE_LOCK', `could not take the lock ${lockPath}: another process keeps re-creating it`);
}
