/**
 * Records an output's peer refused for good (`<state dir>/dead-letter/<output>.ndjson`): one JSON
 * line each with the time, the reason, the record as formatted and the original event, fsynced
 * before the checkpoint moves past them.
 */
import { mkdirSync, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RejectedRecord } from './types.js';

export function deadLetterPath(statePath: string, output: string): string {
  return join(dirname(statePath), 'dead-letter', `${output}.ndjson`);
}

export async function writeDeadLetters(
  path: string,
  output: string,
  rejected: readonly RejectedRecord[],
  nowMs: number,
): Promise<void> {
  if (rejected.length === 0) return;
  const at = new Date(nowMs).toISOString();
  const text = rejected
    .map(({ record, reason }) =>
      JSON.stringify({ at, output, account_id: record.accountId, reason, record: record.text, event: record.event }),
    )
    .join('\n');
  await appendDurably(path, text);
}

/** Appends lines to a dead-letter file (created 0600 in a 0700 folder) and fsyncs them. */
export async function appendDurably(path: string, text: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const handle = await fs.open(path, 'a', 0o600);
  try {
    await handle.write(`${text}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
