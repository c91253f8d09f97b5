/** Temp dirs, configs and file checks for tests that drive the CLI against the simulators. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';
import { eventHash } from '../../src/format/identity.js';

export const ACCOUNT_A = '0123456789abcdef0123456789abcdef';
export const ACCOUNT_B = 'fedcba9876543210fedcba9876543210';

export function tempDir(prefix = 'cfas-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface ConfigSpec {
  baseUrl: string;
  token?: string;
  accounts?: { id: string; name?: string }[];
  pageSize?: number;
  settle?: string;
  overlap?: string;
  sweepEvery?: string;
  /** More keys of the poll section, YAML lines indented by 2. */
  pollExtra?: string;
  lookback?: string;
  statePath: string;
  outputs: string; // YAML list items, indented by 2
  extra?: string;
}

export function writeConfig(dir: string, spec: ConfigSpec, name = 'config.yaml'): string {
  const accounts = (spec.accounts ?? [{ id: ACCOUNT_A }])
    .map((a) => `    - { id: ${a.id}${a.name ? `, name: ${a.name}` : ''} }`)
    .join('\n');
  const text = `cloudflare:
  base_url: ${spec.baseUrl}
  api_token: ${spec.token ?? 'sim-token'}
  accounts:
${accounts}
  page_size: ${spec.pageSize ?? 100}
  request_timeout: 5s
poll:
  settle: ${spec.settle ?? '1s'}
  overlap: ${spec.overlap ?? '10m'}
${spec.sweepEvery === undefined ? '' : `  sweep_every: ${spec.sweepEvery}\n`}${spec.pollExtra === undefined ? '' : `${spec.pollExtra}\n`}  initial_lookback: ${spec.lookback ?? '2h'}
state:
  path: ${spec.statePath}
outputs:
${spec.outputs}
log: { level: debug }
${spec.extra ?? ''}`;
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export function readLines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/** Asserts-friendly summary: how many times each event (by content hash) appears in a JSON-lines file. */
export function countByHash(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const event = JSON.parse(line) as AccessEvent;
    delete event.account_id;
    const hash = eventHash(event);
    counts.set(hash, (counts.get(hash) ?? 0) + 1);
  }
  return counts;
}

/** Differences between what a file holds and what was expected: missing and duplicated events. */
export function exactlyOnceReport(
  lines: readonly string[],
  expected: readonly AccessEvent[],
): { missing: number; duplicated: number; unexpected: number; total: number } {
  const counts = countByHash(lines);
  const want = new Set(expected.map(eventHash));
  let missing = 0;
  let duplicated = 0;
  let unexpected = 0;
  for (const hash of want) {
    const n = counts.get(hash) ?? 0;
    if (n === 0) missing++;
    if (n > 1) duplicated += n - 1;
  }
  for (const hash of counts.keys()) if (!want.has(hash)) unexpected++;
  return { missing, duplicated, unexpected, total: lines.length };
}

/** Polls `predicate` every 25 ms until it holds, or rejects after `timeoutMs`. */
export function waitFor(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (predicate()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not met in time'));
      else setTimeout(tick, 25);
    };
    tick();
  });
}

/** Events the shipper said it resent although HEC may have indexed them (its warnings). */
export function countedMaybeDuplicated(stderr: string): number {
  let total = 0;
  for (const match of stderr.matchAll(/resending (\d+) event\(s\) HEC may have indexed already/g))
    total += Number(match[1]);
  return total;
}
