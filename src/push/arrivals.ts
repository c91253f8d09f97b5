/**
 * Events of one account that arrive both ways — polled from the API and pushed by Logpush — each
 * shipped once per output: per (account, output), a window of the shared identities
 * (`Dataset.sharedIdentity`) of what either arrival had confirmed. The poll skips what the
 * receiver shipped and the receiver drops what the poll shipped.
 *
 * Only confirmed deliveries enter a window, so a skip never loses an event: the other arrival has
 * it at the output. What remains: the two arriving at one output at the same instant (neither has
 * confirmed yet) are both shipped — a duplicate, never a loss; and the windows live in memory, so
 * a restart forgets them (the overlap the poll reads again after a restart may then ship events
 * the receiver had shipped before it).
 */
import { DedupWindow } from './dedup-window.js';

export class SharedArrivals {
  private readonly windows = new Map<string, DedupWindow>();
  private readonly accounts: ReadonlySet<string>;

  /** `accounts`: those both polled and pushed (a push endpoint with their `account_id`). */
  constructor(
    readonly capacity: number,
    accounts: Iterable<string>,
  ) {
    this.accounts = new Set(accounts);
  }

  /** Whether the account is both polled and pushed. */
  covers(account: string): boolean {
    return this.accounts.has(account);
  }

  /** The window of one account and output, or undefined when the account is not both polled and pushed. */
  window(account: string, output: string): DedupWindow | undefined {
    if (!this.accounts.has(account)) return undefined;
    const key = `${account}\u0000${output}`;
    let window = this.windows.get(key);
    if (!window) {
      window = new DedupWindow(this.capacity);
      this.windows.set(key, window);
    }
    return window;
  }
}
