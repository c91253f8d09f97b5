/**
 * The state file, through lowdb with our durable adapter, behind an exclusive lock. Saves are
 * serialized; each one replaces the file atomically and keeps the previous good file as `.bak`.
 */
import { existsSync, mkdirSync, promises as fs, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Low } from 'lowdb';
import { ShipperError } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { DedupLog } from './dedup-log.js';
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
  /** Where dedup hashes persist outside the state file (without it they are saved in it). */
  readonly dedup?: DedupLog;
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
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version > 1) {
    throw new Error(
      `it was written by a newer release of cf-access-shipper (state version ${version}; this release reads version 1): run that release, or move the file away to start over`,
    );
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
      if ((error as NodeJS.ErrnoException).code === 'EISDIR') throw notAFile(this.path);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new ShipperError(
          'ERR_STATE_READ',
          `cannot read the state file ${this.path} (${(error as Error).message}); check its permissions`,
          { cause: error },
        );
      if (existsSync(`${this.path}.bak`)) {
        throw new StateCorruptError(
          this.path,
          `it is missing but ${this.path}.bak exists (was it deleted by hand?)`,
          true,
        );
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
    try {
      await writeFileAtomic(this.path, `${JSON.stringify(data)}\n`, { backup: true });
    } catch (error) {
      throw saveError(this.path, error);
    }
  }
}

export interface OpenStateOptions {
  /** Replace an unusable state file by its `.bak` before reading. */
  recoverFromBackup?: boolean;
  /** Read without taking the lock and never write (status). */
  readOnly?: boolean;
  /** Told what open decided on the user's behalf (a recovery not needed). */
  onNotice?: (message: string) => void;
}

function notAFile(path: string): ShipperError {
  return new ShipperError(
    'ERR_STATE_PATH',
    `state.path ${path} is a directory; set state.path to a file in it, for example ${path.replace(/\/+$/, '')}/state.json`,
  );
}

function saveError(path: string, error: unknown): ShipperError {
  const code = (error as NodeJS.ErrnoException).code;
  const hint =
    code === 'ENOSPC'
      ? 'the disk is full: free space there'
      : code === 'EMFILE' || code === 'ENFILE'
        ? 'the process ran out of file descriptors'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'it is not writable: fix its permissions or the mount'
          : 'check the disk and permissions there';
  return new ShipperError(
    'ERR_STATE_SAVE',
    `cannot save the state file ${path} (${(error as Error).message}); ${hint}. Until a save succeeds, progress is kept in memory only`,
    { cause: error },
  );
}

/** Whether the state at `path` exists and parses (a recovery would only lose progress). */
function isUsable(path: string): boolean {
  try {
    parseState(readFileSync(path, 'utf8'));
    return true;
  } catch {
    return false;
  }
}

/** Creates the state's directory, with errors that say what is in the way. */
export function prepareDirectory(path: string): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new ShipperError(
        'ERR_STATE_PATH',
        `cannot create the state directory ${dir}: a file is in the way (a path above it is a file, not a directory); set state.path to a file in a directory`,
        { cause: error },
      );
    }
    throw new ShipperError(
      'ERR_STATE_PATH',
      `cannot create the state directory ${dir} (${(error as Error).message}); create it, or set state.path elsewhere`,
      { cause: error },
    );
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw notAFile(path);
}

/**
 * What \`run\` needs of the state path, checked without taking the lock (\`check\`): its directory
 * can be created and written (a probe file), and an existing state parses. Throws what \`run\` would.
 */
export async function checkStatePath(path: string): Promise<'valid' | 'new'> {
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (!statSync(dir).isDirectory())
    throw new ShipperError(
      'ERR_STATE_PATH',
      `cannot create the state directory ${dirname(path)}: ${dir} is a file, not a directory; set state.path to a file in a directory`,
    );
  if (existsSync(path) && statSync(path).isDirectory()) throw notAFile(path);
  const probe = join(dir, `.cf-access-shipper-check-${process.pid}`);
  try {
    await fs.writeFile(probe, '');
    await fs.rm(probe, { force: true });
  } catch (error) {
    throw new ShipperError(
      'ERR_STATE_PATH',
      `the state directory ${dir} is not writable (${(error as Error).message}); run would fail to save its checkpoints there`,
      { cause: error },
    );
  }
  if (!existsSync(path)) return 'new';
  try {
    parseState(await fs.readFile(path, 'utf8'));
  } catch (error) {
    throw new StateCorruptError(path, (error as Error).message, existsSync(`${path}.bak`));
  }
  return 'valid';
}

export class StateStore implements StateHolder {
  private saving: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  readonly dedup: DedupLog | undefined;

  private constructor(
    readonly path: string,
    private readonly db: Low<StateData>,
    private readonly lock: StateLock | undefined,
  ) {
    if (!lock) return;
    this.dedup = DedupLog.open(path, db.data.dedup_log);
    // A state from before the journal kept its hashes inline: they move to the journal.
    for (const [account, saved] of Object.entries(db.data.accounts)) {
      for (const [output, cursor] of Object.entries(saved.outputs)) {
        const index = this.dedup.index(account, output);
        for (const [time, hashes] of Object.entries(cursor.dedup)) for (const hash of hashes) index.add(time, hash);
        cursor.dedup = {};
      }
    }
  }

  static async open(path: string, options: OpenStateOptions = {}): Promise<StateStore> {
    if (!options.readOnly) prepareDirectory(path);
    const lock = options.readOnly ? undefined : acquireLock(`${path}.lock`);
    try {
      if (options.recoverFromBackup) {
        if (isUsable(path))
          options.onNotice?.(
            `--recover-from-backup: ${path} is usable, so it was left as it is (the flag only replaces an unusable state)`,
          );
        else await restoreBackup(path);
      }
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
    const next = this.saving.then(async () => {
      this.queued = undefined; // from here on, later changes need a save of their own
      const journal = await this.dedup?.flush();
      if (journal) this.db.data.dedup_log = journal;
      await this.db.write();
      if (journal) this.dedup?.committed(journal);
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
    throw new ShipperError(
      'ERR_STATE_NO_BACKUP',
      `--recover-from-backup: ${bak} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); move ${path} away to start over instead`,
      { cause: error },
    );
  }
  try {
    parseState(text);
  } catch (error) {
    throw new ShipperError(
      'ERR_STATE_NO_BACKUP',
      `--recover-from-backup: ${bak} is unusable too (${(error as Error).message}); move ${path} away to start over`,
    );
  }
  if (existsSync(path)) await fs.rename(path, `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`);
  await writeFileAtomic(path, text);
}
