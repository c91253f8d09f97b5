/** The persisted state: checkpoints per (account, output), file positions, API cooldown. */
import { z } from 'zod';

const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;
const canonicalTime = z.string().regex(CANONICAL);
const isoTime = z.string().min(1);

const errorRecord = z.object({ at: isoTime, message: z.string(), code: z.string().optional() });

export const outputCursorSchema = z.object({
  /** Everything created before this instant has been delivered (late arrivals aside). */
  checkpoint: canonicalTime,
  /** Late arrivals before this instant have been looked for (a sweep of the overlap read it). */
  swept: canonicalTime.optional(),
  /** Hashes of delivered events by created_at, for times ≥ swept. */
  dedup: z.record(canonicalTime, z.array(z.string())),
  delivered: z.number().int().nonnegative(),
  dead_lettered: z.number().int().nonnegative().optional(),
  last_success: isoTime.optional(),
  last_error: errorRecord.optional(),
});

export const accountStateSchema = z.object({
  outputs: z.record(z.string(), outputCursorSchema),
  last_poll: z
    .object({
      at: isoTime,
      since: canonicalTime,
      until: canonicalTime,
      fetched: z.number().int().nonnegative(),
      requests: z.number().int().nonnegative(),
      duration_ms: z.number().nonnegative(),
    })
    .optional(),
  last_error: errorRecord.optional(),
});

export const sinkStateSchema = z.object({
  /** Where a file output's committed data ends; a longer file has an unconfirmed tail. */
  file: z
    .object({ path: z.string(), dev: z.number(), ino: z.number(), size: z.number().int().nonnegative() })
    .optional(),
});

export const jobInfoSchema = z.object({
  key: z.string(),
  command: z.string(),
  since: canonicalTime,
  until: canonicalTime,
  outputs: z.array(z.string()),
  started_at: isoTime,
  updated_at: isoTime,
  completed_at: isoTime.optional(),
  events: z.number().int().nonnegative(),
  pages: z.number().int().nonnegative(),
});

export const stateSchema = z.object({
  version: z.literal(1),
  accounts: z.record(z.string(), accountStateSchema),
  sinks: z.record(z.string(), sinkStateSchema),
  api: z.object({ cooldown_until: isoTime.optional(), cooldown_reason: z.string().optional() }),
  job: jobInfoSchema.optional(),
  /** How much of the dedup journal (`<state>.dedup.<generation>`) this save covers. */
  dedup_log: z
    .object({ generation: z.number().int().nonnegative(), length: z.number().int().nonnegative() })
    .optional(),
  /** Outputs resting after failures, and when they are tried again (see pipeline/output-schedule.ts). */
  output_retry: z
    .record(
      z.string(),
      z.object({
        failures: z.number().int().positive(),
        retry_at: isoTime,
        stopped: z.boolean(),
        config: z.string().optional(),
      }),
    )
    .optional(),
});

export type StateData = z.infer<typeof stateSchema>;
export type AccountState = z.infer<typeof accountStateSchema>;
export type OutputCursorState = z.infer<typeof outputCursorSchema>;
export type SinkState = z.infer<typeof sinkStateSchema>;
export type JobInfo = z.infer<typeof jobInfoSchema>;

export function emptyState(): StateData {
  return { version: 1, accounts: {}, sinks: {}, api: {} };
}
