/**
 * Polls HEC's /services/collector/ack for pending requests. An ackId belongs to the indexer and
 * channel that issued it: each query goes to the request's own URL, with the load balancer cookie
 * the ackId was issued under, so a balancer routes it back to that indexer.
 */
import type { Clock } from '../clock.js';
import type { AckEntry } from './hec-ack-book.js';
import { hecRequest } from './hec-http.js';
import { classifyHecResponse, parseHecBody } from './hec-protocol.js';
import type { HecTarget } from './hec-targets.js';

export interface AckPollOptions {
  targets: readonly HecTarget[];
  /** How long after its request each ackId may stay false (ack_timeout); 0: one query, no waiting. */
  timeoutMs: number;
  maxIntervalMs: number;
  /** `outputs.<name>`, for messages. */
  key: string;
  clock: Clock;
  signal?: AbortSignal | undefined;
  onConfirmed: (entry: AckEntry) => void;
}

export type AckPollResult =
  /** `waiting`: still false when their time ran out (0: all confirmed). */
  | { status: 'done'; waiting: number; problem?: string }
  | { status: 'stopped'; waiting: number }
  | { status: 'fatal'; reason: string };

export async function pollAcks(entries: readonly AckEntry[], options: AckPollOptions): Promise<AckPollResult> {
  let waiting = entries.filter((e) => e.state === 'pending');
  let problem = '';
  // Poll soon, then twice as long each time up to ack_poll_interval: a fast indexer acks within
  // tens of milliseconds (and a batch waiting for its ack holds a slot of the pipeline), a busy
  // one in seconds, where the first few polls cost a small request each.
  let interval = Math.min(20, options.maxIntervalMs);
  let first = true;
  while (waiting.length > 0) {
    if (options.timeoutMs > 0) {
      const deadline = Math.min(...waiting.map((e) => e.sentAt + options.timeoutMs));
      const left = deadline - Date.now();
      if (left <= 0 && !first) break;
      try {
        await options.clock.sleep(Math.max(0, Math.min(interval, left)), options.signal);
      } catch {
        return { status: 'stopped', waiting: waiting.length };
      }
      interval = Math.min(interval * 2, options.maxIntervalMs);
    }
    first = false;
    const fatal = await queryOnce(waiting, options, (p) => (problem = p));
    if (fatal) return { status: 'fatal', reason: fatal };
    waiting = waiting.filter(
      (e) => e.state === 'pending' && (options.timeoutMs === 0 || Date.now() - e.sentAt < options.timeoutMs),
    );
    if (options.timeoutMs === 0) break;
  }
  const left = entries.filter((e) => e.state === 'pending').length;
  return problem ? { status: 'done', waiting: left, problem } : { status: 'done', waiting: left };
}

/** One /ack query per (URL, cookie); marks what came back true. Returns a reason when the output must stop. */
async function queryOnce(
  waiting: readonly AckEntry[],
  options: AckPollOptions,
  onProblem: (problem: string) => void,
): Promise<string | undefined> {
  const groups = new Map<string, AckEntry[]>();
  for (const entry of waiting) {
    const key = `${entry.base}\n${entry.cookie ?? ''}`;
    const group = groups.get(key);
    if (group) group.push(entry);
    else groups.set(key, [entry]);
  }
  for (const group of groups.values()) {
    const sample = group[0];
    const target = options.targets.find((t) => t.base === sample?.base);
    if (!sample || !target) continue;
    try {
      const headers: Record<string, string> = sample.cookie ? { cookie: sample.cookie } : {};
      const response = await hecRequest(
        { ...target.endpoint, agents: target.agents },
        '/services/collector/ack',
        'POST',
        Buffer.from(JSON.stringify({ acks: group.map((e) => e.ackId) })),
        headers,
      );
      const body = parseHecBody(response.body) as { acks?: Record<string, boolean> };
      if (response.statusCode !== 200 || !body.acks) {
        const verdict = classifyHecResponse({ status: response.statusCode, body: response.body }, options.key);
        if (verdict.kind === 'fatal') return verdict.reason;
        onProblem(`ack query to ${target.base}: HTTP ${response.statusCode}`);
        continue;
      }
      for (const entry of group) {
        if (body.acks[String(entry.ackId)] === true && entry.state === 'pending') options.onConfirmed(entry);
      }
    } catch (error) {
      onProblem(`ack query to ${target.base}: ${(error as Error).message}`);
    }
  }
  return undefined;
}
