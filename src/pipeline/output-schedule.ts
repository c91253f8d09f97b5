/**
 * When a failed output is tried again. A failure rests the output on an exponential schedule
 * (outputs that need a person, such as a revoked token, on a slower one), so a dead output costs
 * neither API requests nor log lines every poll; its first success ends the rest.
 */
import type { StateData } from '../state/schema.js';

export const RETRY_BASE_MS = 30_000;
/** A failure that may pass by itself (peer down, timeouts). */
export const RETRY_CAP_MS = 10 * 60_000;
/** The output's own verdict (bad token, wrong index, certificate): a person has to act. */
export const STOPPED_RETRY_CAP_MS = 60 * 60_000;

export interface OutputFailure {
  failures: number;
  retryAtMs: number;
  stopped: boolean;
}

export function retryDelay(failures: number, stopped: boolean): number {
  const base = stopped ? 2 * RETRY_BASE_MS : RETRY_BASE_MS;
  return Math.min(base * 2 ** Math.max(0, failures - 1), stopped ? STOPPED_RETRY_CAP_MS : RETRY_CAP_MS);
}

export class OutputSchedule {
  private readonly failing = new Map<string, OutputFailure>();

  /**
   * Picks up the schedule a previous run saved (a restart must not hammer a dead output).
   * `fingerprints`: each output's configuration, hashed. A saved rest is honoured only while the
   * output's configuration is unchanged: fixing a token and restarting retries at once.
   */
  constructor(
    private readonly state?: StateData,
    honourSaved = true,
    private readonly fingerprints: ReadonlyMap<string, string> = new Map(),
  ) {
    if (!honourSaved) return;
    for (const [name, saved] of Object.entries(state?.output_retry ?? {})) {
      if (saved.config !== undefined && saved.config !== fingerprints.get(name)) continue;
      this.failing.set(name, {
        failures: saved.failures,
        retryAtMs: Date.parse(saved.retry_at),
        stopped: saved.stopped,
      });
    }
  }

  /** Whether `name` rests at `nowMs` (it is not read for, nor offered anything). */
  resting(name: string, nowMs: number): boolean {
    const failure = this.failing.get(name);
    return failure !== undefined && nowMs < failure.retryAtMs;
  }

  /** Records a failure and returns when the output is tried next. */
  failed(name: string, stopped: boolean, nowMs: number): OutputFailure {
    const failures = (this.failing.get(name)?.failures ?? 0) + 1;
    const failure = { failures, stopped, retryAtMs: nowMs + retryDelay(failures, stopped) };
    this.failing.set(name, failure);
    this.persist(name);
    return failure;
  }

  /** Records a success; true when it ends a run of failures. */
  succeeded(name: string): boolean {
    const had = this.failing.delete(name);
    if (had) this.persist(name);
    return had;
  }

  private persist(name: string): void {
    if (!this.state) return;
    const failure = this.failing.get(name);
    const saved = Object.fromEntries(Object.entries(this.state.output_retry ?? {}).filter(([other]) => other !== name));
    if (failure)
      saved[name] = {
        failures: failure.failures,
        retry_at: new Date(failure.retryAtMs).toISOString(),
        stopped: failure.stopped,
        config: this.fingerprints.get(name),
      };
    this.state.output_retry = saved;
  }
}
