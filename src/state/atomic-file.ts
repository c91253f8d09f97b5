/**
 * Durable file replacement: write a temporary file, fsync it, keep the current file as `.bak`
 * (a hard link, so there is never a moment without a state file), rename the temporary file
 * over the target and fsync the directory so the rename itself survives a power cut.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface AtomicWriteOptions {
  /** Keep the file being replaced as `<path>.bak`. */
  backup?: boolean;
  mode?: number;
}

export async function writeFileAtomic(path: string, data: string, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx', options.mode ?? 0o600);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    if (options.backup === true) await replaceBackup(path);
    await fs.rename(tmp, path);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await fsyncDirectory(dir);
}

/** Points `<path>.bak` at the current content of `path` (atomically, via a hard link). */
async function replaceBackup(path: string): Promise<void> {
  const bakTmp = `${path}.bak.${process.pid}.tmp`;
  try {
    await fs.rm(bakTmp, { force: true });
    await fs.link(path, bakTmp);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // nothing to back up yet
    throw error;
  }
  await fs.rename(bakTmp, `${path}.bak`);
}
