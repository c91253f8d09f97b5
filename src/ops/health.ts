/** Whether every output committed recently enough: the answer of GET /healthz. */
import { formatDuration } from '../config/duration.js';
import { msOf } from '../format/time.js';
import type { StateData } from '../state/schema.js';

export interface HealthReport {
  healthy: boolean;
  reasons: string[];
  outputs: { account: string; output: string; lag_seconds: number | null; retention_seconds: number }[];
}

export interface HealthInput {
  state: StateData;
  accounts: readonly { id: string; label: string; retentionMs: number }[];
  outputs: readonly string[];
  alertLagMs: number;
  nowMs: number;
  /** When the daemon started: an output without a checkpoint yet is fine for its first `alertLag`. */
  startedAtMs: number;
}

export function healthReport(input: HealthInput): HealthReport {
  const report: HealthReport = { healthy: true, reasons: [], outputs: [] };
  for (const account of input.accounts) {
    for (const output of input.outputs) {
      const cursor = input.state.accounts[account.id]?.outputs[output];
      const lagMs = cursor ? input.nowMs - msOf(cursor.checkpoint) : null;
      report.outputs.push({
        account: account.label,
        output,
        lag_seconds: lagMs === null ? null : Math.round(lagMs / 1000),
        retention_seconds: Math.round(account.retentionMs / 1000),
      });
      if (lagMs === null) {
        if (input.nowMs - input.startedAtMs > input.alertLagMs)
          report.reasons.push(
            `output ${output} has no checkpoint for account ${account.label} after ${formatDuration(input.nowMs - input.startedAtMs)}`,
          );
      } else if (lagMs > input.alertLagMs) {
        report.reasons.push(
          `output ${output} is ${formatDuration(lagMs)} behind for account ${account.label} (alert_lag ${formatDuration(input.alertLagMs)}${lagMs > account.retentionMs * 0.75 ? `; Cloudflare keeps only ${formatDuration(account.retentionMs)}: events are about to be lost` : ''})`,
        );
      }
    }
  }
  for (const output of input.outputs) {
    const retry = input.state.output_retry?.[output];
    if (retry === undefined) continue;
    report.reasons.push(
      `output ${output} failed ${retry.failures} time(s) in a row${retry.stopped ? ' and needs its configuration fixed (see its last_error in status)' : ''}; next attempt at ${retry.retry_at}`,
    );
  }
  report.healthy = report.reasons.length === 0;
  return report;
}
