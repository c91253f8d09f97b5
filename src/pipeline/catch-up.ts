/**
 * Outputs catching up in their own reads, one task per (account, output) at a time. A task may
 * outlive the poll that started it (the daemon's next polls leave that output out); one-off
 * commands wait for every task with `idle()`.
 */
export class CatchUps {
  private readonly running = new Map<string, Promise<void>>();

  private static key(accountId: string, output: string): string {
    return `${accountId}\u0000${output}`;
  }

  isRunning(accountId: string, output: string): boolean {
    return this.running.has(CatchUps.key(accountId, output));
  }

  /** Starts `task` unless one runs for that pair already; it must not reject (it logs its own errors). */
  launch(accountId: string, output: string, task: () => Promise<void>): void {
    const key = CatchUps.key(accountId, output);
    if (this.running.has(key)) return;
    const promise = task()
      .catch(() => undefined)
      .finally(() => this.running.delete(key));
    this.running.set(key, promise);
  }

  /** Resolves when no task runs, including tasks started while waiting. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()]);
  }
}
