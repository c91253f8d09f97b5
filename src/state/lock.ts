/**
 * An exclusive lock file next to the state (`<path>.lock`, holding the owner's pid). A lock
 * left by a process that no longer exists (kill -9, power cut) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { ShipperError } from '../errors.js';

export class StateLockedError extends ShipperError {
  constructor(
    readonly lockPath: string,
    readonly holderPid: number,
    what: string,
  ) {
    super('ERR_STATE_LOCKED', `${what} is in use by another cf-access-shipper process (pid ${holderPid}, lock file ${lockPath}); stop that process first, or use a different path`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface StateLock {
  readonly path: string;
  release(): void;
}

/** Locks this process holds: a lock file naming our own pid is ours only if it is listed here. */
const held = new Set<string>();

export function acquireLock(lockPath: string, what = 'the state'): StateLock {
  if (held.has(lockPath)) throw new StateLockedError(lockPath, process.pid, what);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
      closeSync(fd);
      let released = false;
      held.add(lockPath);
      return {
        path: lockPath,
        release() {
          if (released) return;
          released = true;
          held.delete(lockPath);
          try {
            if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) rmSync(lockPath, { force: true });
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ShipperError('ERR_STATE_LOCK', `cannot create the lock file ${lockPath} (${(error as Error).message}); check that the state directory exists and is writable`, { cause: error });
      }
    }
    let holder = NaN;
    try {
      holder = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
    } catch {
      // Removed between our open and read: try again.
    }
    // Our own pid in a lock we do not hold: left by an earlier process with the same pid (PID 1 in a container).
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) throw new StateLockedError(lockPath, holder, what);
    rmSync(lockPath, { force: true }); // stale: its owner is gone
  }
  throw new ShipperError('ERR_STATE_LOCK', `could not take the lock ${lockPath}: another process keeps re-creating it`);
}
