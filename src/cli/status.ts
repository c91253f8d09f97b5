/**
 * `status`: where every (account, output) stands, read from the state without taking its lock
 * (safe while the daemon runs: the file is only ever replaced atomically), plus backfill jobs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { msOf } from '../format/time.js';
import { backfillDirectory } from '../pipeline/backfill.js';
import { accountLabel } from '../pipeline/run-once.js';
import { emptyState, type StateData } from '../state/schema.js';
import { parseState } from '../state/store.js';
import { ShipperError } from '../errors.js';
import { safeText } from '../safe-text.js';

export interface OutputStatus {
  account: string;
  account_id: string;
  output: string;
  checkpoint: string | null;
  lag_seconds: number | null;
  delivered: number;
  last_success: string | null;
  last_error: { at: string; message: string } | null;
}

export interface JobStatus {
  key: string;
  command: string;
  since: string;
  until: string;
  outputs: string[];
  events: number;
  pages: number;
  started_at: string;
  updated_at: string;
  completed_at: string | null;
  progress_percent: number;
}

export interface StatusReport {
  state_path: string;
  now: string;
  cooldown_until: string | null;
  cooldown_reason: string | null;
  accounts: {
    account: string;
    account_id: string;
    last_poll: StateData['accounts'][string]['last_poll'] | null;
    last_error: { at: string; message: string } | null;
  }[];
  outputs: OutputStatus[];
  /** Outputs resting after failures, and when they are tried next. */
  output_retry: Record<string, { failures: number; retry_at: string; stopped: boolean }>;
  backfill_jobs: JobStatus[];
}

function readStateFile(path: string): StateData {
  if (!existsSync(path)) return emptyState();
  try {
    return parseState(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ShipperError(
      'ERR_STATE_CORRUPT',
      `state file ${path} is unusable: ${(error as Error).message}; see "run --recover-from-backup" in the README`,
    );
  }
}

/** A state written by an older release may hold raw peer text: mask and escape it here too. */
function cleanError(error: { at: string; message: string } | undefined): { at: string; message: string } | null {
  return error ? { ...error, message: safeText(error.message) } : null;
}

export function collectStatus(config: Config, nowMs: number = Date.now()): StatusReport {
  const state = readStateFile(config.state.path);
  const cooldown =
    state.api.cooldown_until !== undefined && Date.parse(state.api.cooldown_until) > nowMs
      ? state.api.cooldown_until
      : null;
  const report: StatusReport = {
    state_path: config.state.path,
    now: new Date(nowMs).toISOString(),
    cooldown_until: cooldown,
    cooldown_reason: cooldown === null ? null : (state.api.cooldown_reason ?? null),
    accounts: [],
    outputs: [],
    output_retry: Object.fromEntries(
      Object.entries(state.output_retry ?? {}).map(([name, r]) => [
        name,
        { failures: r.failures, retry_at: r.retry_at, stopped: r.stopped },
      ]),
    ),
    backfill_jobs: [],
  };
  for (const account of config.cloudflare.accounts) {
    const label = accountLabel(account);
    const saved = state.accounts[account.id];
    report.accounts.push({
      account: label,
      account_id: account.id,
      last_poll: saved?.last_poll ?? null,
      last_error: cleanError(saved?.last_error),
    });
    for (const output of config.outputs) {
      const cursor = saved?.outputs[output.name];
      report.outputs.push({
        account: label,
        account_id: account.id,
        output: output.name,
        checkpoint: cursor?.checkpoint ?? null,
        lag_seconds: cursor ? Math.max(0, Math.round((nowMs - msOf(cursor.checkpoint)) / 1000)) : null,
        delivered: cursor?.delivered ?? 0,
        last_success: cursor?.last_success ?? null,
        last_error: cleanError(cursor?.last_error),
      });
    }
  }
  const dir = backfillDirectory(config);
  if (existsSync(dir)) {
    for (const file of readdirSync(dir)
      .filter((f) => /^[0-9a-f]{16}\.json$/.test(f))
      .sort()) {
      let job: StateData['job'];
      try {
        job = parseState(readFileSync(join(dir, file), 'utf8')).job;
      } catch {
        continue; // a job file being written for the first time
      }
      if (!job) continue;
      const jobState = readStateFile(join(dir, file));
      const positions = Object.values(jobState.accounts).flatMap((a) =>
        Object.values(a.outputs).map((o) => msOf(o.checkpoint)),
      );
      const from = msOf(job.since);
      const to = msOf(job.until);
      const at = job.completed_at !== undefined ? to : positions.length > 0 ? Math.min(...positions) : from;
      report.backfill_jobs.push({
        key: job.key,
        command: job.command,
        since: job.since,
        until: job.until,
        outputs: job.outputs,
        events: job.events,
        pages: job.pages,
        started_at: job.started_at,
        updated_at: job.updated_at,
        completed_at: job.completed_at ?? null,
        progress_percent: to > from ? Math.round(((at - from) / (to - from)) * 1000) / 10 : 100,
      });
    }
  }
  return report;
}

export function formatStatus(report: StatusReport): string[] {
  const lines = [`state ${report.state_path} at ${report.now}`];
  if (report.cooldown_until)
    lines.push(`Cloudflare API cooldown until ${report.cooldown_until} (${report.cooldown_reason ?? 'rate limited'})`);
  for (const account of report.accounts) {
    const poll = account.last_poll;
    lines.push(
      `account ${account.account}${account.account !== account.account_id ? ` (${account.account_id})` : ''}: ${poll ? `last poll ${poll.at}, ${poll.fetched} events in ${poll.requests} request(s)` : 'never polled'}${account.last_error ? `; LAST ERROR ${account.last_error.at}: ${account.last_error.message}` : ''}`,
    );
    for (const out of report.outputs.filter((o) => o.account_id === account.account_id)) {
      const position =
        out.checkpoint === null
          ? 'no checkpoint yet'
          : `checkpoint ${out.checkpoint} (lag ${formatDuration((out.lag_seconds ?? 0) * 1000)})`;
      lines.push(
        `  output ${out.output}: ${position}, ${out.delivered} delivered, last success ${out.last_success ?? 'never'}${out.last_error ? `; last error ${out.last_error.at}: ${out.last_error.message}` : ''}`,
      );
    }
  }
  for (const [name, retry] of Object.entries(report.output_retry)) {
    lines.push(
      `output ${name}: resting after ${retry.failures} failure(s) in a row${retry.stopped ? ' (it needs its configuration fixed)' : ''}; next attempt at ${retry.retry_at}`,
    );
  }
  for (const job of report.backfill_jobs) {
    lines.push(
      `backfill ${job.key}: [${job.since}, ${job.until}) → ${job.outputs.join(', ')}: ${job.completed_at ? `complete ${job.completed_at}` : `${job.progress_percent}%`}, ${job.events} events, ${job.pages} pages ("${job.command}")`,
    );
  }
  return lines;
}
