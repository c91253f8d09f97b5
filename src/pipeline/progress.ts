/**
 * Backfill progress: a line on stderr rewritten in place when stderr is a terminal, otherwise a
 * log line every `intervalMs`. Shows events, pages, rate and an ETA from how far through the
 * time range the read position is.
 */
import { formatDuration } from '../config/duration.js';
import { msOf } from '../format/time.js';

export interface ProgressOptions {
  since: string;
  until: string;
  tty: boolean;
  write: (line: string) => void;
  log: (line: string) => void;
  now?: () => number;
  intervalMs?: number;
}

export class Progress {
  private events = 0;
  private pages = 0;
  private position = '';
  private readonly startedAt: number;
  private lastReport = 0;
  private readonly now: () => number;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  page(info: { fetched: number; position: string }): void {
    this.pages++;
    this.events += info.fetched;
    if (info.position > this.position) this.position = info.position;
    const now = this.now();
    if (this.options.tty) {
      if (now - this.lastReport >= 200) {
        this.lastReport = now;
        this.options.write(`\r\x1b[K${this.line()}`);
      }
    } else if (now - this.lastReport >= (this.options.intervalMs ?? 10_000)) {
      this.lastReport = now;
      this.options.log(this.line());
    }
  }

  done(): void {
    if (this.options.tty) this.options.write(`\r\x1b[K${this.line()}\n`);
  }

  line(): string {
    const elapsed = Math.max(1, this.now() - this.startedAt);
    const rate = Math.round((this.events / elapsed) * 1000);
    const from = msOf(this.options.since);
    const to = msOf(this.options.until);
    const at = this.position === '' ? from : msOf(this.position);
    const fraction = to > from ? Math.min(1, Math.max(0, (at - from) / (to - from))) : 1;
    const eta =
      fraction > 0 && fraction < 1 ? formatDuration((elapsed / fraction) * (1 - fraction)) : fraction >= 1 ? '0s' : '?';
    return `backfill: ${this.events} events, ${this.pages} pages, ${rate}/s, ${(fraction * 100).toFixed(1)}% of the range, ETA ${eta}`;
  }
}
