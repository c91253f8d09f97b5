/**
 * The state file, through lowdb with our durable adapter, behind an exclusive lock. Saves are
 * serialized; each one replaces the file atomically and keeps the previous good file as `.bak`.
 */
import { existsSync, mkdirSync, promises as fs, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Low } from 'lowdb';
import { ShipperError } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { acquireLock, type StateLock } from './lock.js';
import { emptyState, type StateData, stateSchema } from './schema.js';

export class StateCorruptError extends ShipperError {
  constructor(path: string, reason: string, hasBackup: boolean) {
    const recovery = hasBackup
      ? `Nothing was shipped. To continue from the previous save, run the same command with --recover-from-backup (restores ${path}.bak); or move ${path} away to start over from poll.initial_lookback (events already shipped may be sent again).`
      : `Nothing was shipped. There is no ${path}.bak to recover from; move ${path} away to start over from poll.initial_lookback (events already shipped may be sent again).`;
    super('ERR_STATE_CORRUPT', `state file ${path} is unusable: ${reason}. ${recovery}`);
  }
}

/** What the pipeline needs of a state: the data and a way to save it. */
export interface StateHolder {
  readonly data: StateData;
  save(): Promise<void>;
}

/** Parses and validates state text; throws a plain Error with the reason. */
export function parseState(text: string): StateData {
  if (text.trim() === '') throw new Error('the file is empty');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`it is not valid JSON (${(error as Error).message}); it may have been truncated`, { cause: error });
  }
  const result = stateSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`unexpected content at ${issue?.path.join('.') ?? '?'} (${issue?.message ?? 'invalid'})`);
  }
  return result.data;
}

/** lowdb adapter: strict read (corrupt is an error, never a reset), durable write. */
class DurableJsonAdapter {
  constructor(private readonly path: string) {}

  async read(): Promise<StateData | null> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (existsSync(`${this.path}.bak`)) {
        throw new StateCorruptError(this.path, `it is missing but ${this.path}.bak exists (was it deleted by hand?)`, true);
      }
      return null;
    }
    try {
      return parseState(text);
    } catch (error) {
      throw new StateCorruptError(this.path, (error as Error).message, existsSync(`${this.path}.bak`));
    }
  }

  async write(data: StateData): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(data)}\n`, { backup: true });
  }
}

export interface OpenStateOptions {
  /** Replace an unusable state file by its `.bak` before reading. */
  recoverFromBackup?: boolean;
  /** Read without taking the lock and never write (status). */
  readOnly?: boolean;
}

export class StateStore implements StateHolder {
  private saving: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    private readonly db: Low<StateData>,
    private readonly lock: StateLock | undefined,
  ) {}

  static async open(path: string, options: OpenStateOptions = {}): Promise<StateStore> {
    if (!options.readOnly) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const lock = options.readOnly ? undefined : acquireLock(`${path}.lock`);
    try {
      if (options.recoverFromBackup) await restoreBackup(path);
      const db = new Low<StateData>(new DurableJsonAdapter(path), emptyState());
      await db.read();
      return new StateStore(path, db, lock);
    } catch (error) {
      lock?.release();
      throw error;
    }
  }

  get data(): StateData {
    return this.db.data;
  }

  /**
   * Saves the current data. Saves run one at a time; a save asked for while another is still
   * waiting to start joins it, since that one will write the data as it is when it starts (a
   * busy pipeline asks once per page, and the disk need not write every intermediate state).
   */
  save(): Promise<void> {
    if (!this.lock) return Promise.reject(new Error('state opened read-only'));
    if (this.queued) return this.queued;
    const next = this.saving.then(() => {
      this.queued = undefined; // from here on, later changes need a save of their own
      return this.db.write();
    });
    this.queued = next;
    this.saving = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.saving;
    this.lock?.release();
  }

  /** Releases the lock without waiting for a save in progress (a hard exit; the file is replaced atomically). */
  releaseLockNow(): void {
    this.lock?.release();
  }
}

async function restoreBackup(path: string): Promise<void> {
  const bak = `${path}.bak`;
  let text: string;
  try {
    text = readFileSync(bak, 'utf8');
  } catch (error) {
    throw new ShipperError('ERR_STATE_NO_BACKUP', `--recover-from-backup: ${bak} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); move ${path} away to start over instead`, { cause: error });
  }
  try {
    parseState(text);
  } catch (error) {
    throw new ShipperError('ERR_STATE_NO_BACKUP', `--recover-from-backup: ${bak} is unusable too (${(error as Error).message}); move ${path} away to start over`);
  }
  if (existsSync(path)) await fs.rename(path, `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`);
  await writeFileAtomic(path, text);
}
