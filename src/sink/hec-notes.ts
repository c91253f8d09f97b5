/** What the HEC output tells the user at start and when it resends events HEC may hold. */
import type { SplunkHecOutputConfig } from '../config/outputs.js';
import { describeRoute } from '../net/proxy.js';
import type { HecTarget } from './hec-targets.js';

export type MaybeDuplicatedReason = 'cut_in_flight' | 'ack_timeout' | 'unacknowledged_prefix';

export interface Note {
  level: 'info' | 'warn';
  text: string;
}

/** Plain http, proxies, verification off, and acks restored from the last run. */
export function openingNotes(
  name: string,
  config: SplunkHecOutputConfig,
  targets: readonly HecTarget[],
  restored: { pending: number; maybe: number; confirmed: number },
): Note[] {
  const notes: Note[] = [];
  for (const target of targets) {
    if (target.base.startsWith('http:')) {
      notes.push({
        level: 'warn',
        text: `output ${name}: ${target.base} is plain http — the HEC token and events travel unencrypted`,
      });
    }
    const route = target.endpoint.route;
    if (route?.kind === 'proxy')
      notes.push({ level: 'info', text: `output ${name}: ${target.base} ${describeRoute(route)}` });
  }
  if (!config.tls.verify) {
    notes.push({
      level: 'warn',
      text: `output ${name}: TLS certificate verification is OFF (tls.verify: false) — anyone on the path can read and change events and capture the HEC token`,
    });
  }
  if (restored.pending + restored.maybe + restored.confirmed > 0) {
    notes.push({
      level: 'info',
      text: `output ${name}: ${restored.pending} request(s) from the last run wait for their acknowledgement, ${restored.confirmed} were confirmed, ${restored.maybe} were cut in flight; events HEC has are not sent again`,
    });
  }
  return notes;
}

/** Why events are resent although HEC may hold them (the warning's parenthesis). */
export function maybeDuplicatedWhy(reason: MaybeDuplicatedReason, ackTimeoutMs: number): string {
  if (reason === 'cut_in_flight') return 'their request was cut after HEC may have read it';
  if (reason === 'ack_timeout')
    return `their ackId was not true after ${Math.round(ackTimeoutMs / 1000)} s (ack_timeout)`;
  return 'HEC indexed them before rejecting a later event, without an ackId';
}
