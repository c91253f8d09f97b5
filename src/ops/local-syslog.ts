/**
 * The daemon's logs to the local syslog socket (/dev/log) through winston-syslog, guarded so that
 * it can never take the daemon down: winston-syslog 2.7 aborts the process (a native assertion in
 * unix-dgram) when an instance reconnects after a failed connect. So an instance is used only
 * while the socket exists, is dropped at its first error (never reused), and a fresh one is tried
 * 30 s later. Messages logged while there is no working instance are dropped (stderr still has them).
 */
import { statSync } from 'node:fs';
import TransportStream from 'winston-transport';

type InnerTransport = TransportStream & { log(info: unknown, next: () => void): void };
type InnerFactory = () => Promise<InnerTransport>;

export interface LocalSyslogOptions {
  path: string;
  facility: string;
  app_name: string;
  retryMs?: number;
}

export class GuardedSyslogTransport extends TransportStream {
  private inner: InnerTransport | undefined;
  private creating: Promise<void> | undefined;
  private retryAt = 0;
  readonly problems: string[] = [];

  constructor(
    private readonly options: LocalSyslogOptions,
    private readonly factory: InnerFactory = async () => {
      const { Syslog } = await import('winston-syslog');
      return new Syslog({
        protocol: 'unix-connect',
        path: options.path,
        facility: options.facility,
        app_name: options.app_name,
        localhost: '',
        eol: '',
      }) as InnerTransport;
    },
  ) {
    super();
  }

  private socketExists(): boolean {
    try {
      return statSync(this.options.path).isSocket();
    } catch {
      return false;
    }
  }

  private ensureInner(): void {
    if (this.inner || this.creating || Date.now() < this.retryAt) return;
    if (!this.socketExists()) {
      this.abandon(`${this.options.path} is not a socket`);
      return;
    }
    this.creating = this.factory()
      .then((inner) => {
        inner.on('error', (error: Error) => {
          if (this.inner === inner) this.abandon(error.message);
        });
        this.inner = inner;
      })
      .catch((error: unknown) => {
        this.abandon((error as Error).message);
      })
      .finally(() => {
        this.creating = undefined;
      });
  }

  private abandon(problem: string): void {
    this.inner = undefined; // never reused: see the comment at the top
    this.retryAt = Date.now() + (this.options.retryMs ?? 30_000);
    if (this.problems.length < 20) this.problems.push(problem);
  }

  override log(info: unknown, next: () => void): void {
    this.ensureInner();
    const inner = this.inner;
    if (!inner) {
      next();
      return;
    }
    try {
      inner.log(info, () => undefined);
    } catch (error) {
      this.abandon((error as Error).message);
    }
    next();
  }
}
