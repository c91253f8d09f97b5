/**
 * A real rsyslogd on 127.0.0.1: imudp, imtcp, and imtcp with the gtls driver, all writing one
 * JSON line per message (PRI, timestamp, hostname, app-name, procid, msgid, SD, msg) to a file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

export interface RsyslogRecord {
  pri: string;
  timestamp: string;
  hostname: string;
  appname: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function rsyslogAvailable(): boolean {
  return existsSync('/usr/sbin/rsyslogd');
}

/** Whether rsyslog's RELP input is installed (Debian package rsyslog-relp). */
export function relpAvailable(): boolean {
  return [
    '/usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so',
    '/usr/lib/aarch64-linux-gnu/rsyslog/imrelp.so',
    '/usr/lib/rsyslog/imrelp.so',
  ].some((p) => existsSync(p));
}

export class Rsyslog {
  private child: ChildProcess | undefined;
  udpPort = 0;
  tcpPort = 0;
  tlsPort = 0;
  /** 0 unless imrelp (Debian's rsyslog-relp) is installed. */
  relpPort = 0;
  readonly output: string;
  private readonly conf: string;
  private stderr = '';

  /**
   * `asReceived`: write each record as rsyslog's RFC 5424 file format, buffered, the way a relay
   * would (benches); the default writes every field as JSON and flushes per batch (tests read it).
   */
  constructor(
    readonly dir: string,
    private readonly tls: { ca: string; cert: string; key: string },
    private readonly options: { asReceived?: boolean } = {},
  ) {
    this.output = join(dir, 'rsyslog-out.jsonl');
    this.conf = join(dir, 'rsyslog.conf');
  }

  async start(): Promise<this> {
    if (this.udpPort === 0) {
      this.udpPort = await freePort();
      this.tcpPort = await freePort();
      this.tlsPort = await freePort();
      if (relpAvailable()) this.relpPort = await freePort();
    }
    writeFileSync(
      this.conf,
      `global(workDirectory="${this.dir}"
  defaultNetstreamDriverCAFile="${this.tls.ca}"
  defaultNetstreamDriverCertFile="${this.tls.cert}"
  defaultNetstreamDriverKeyFile="${this.tls.key}"
  maxMessageSize="256k")
module(load="imudp")
module(load="imtcp" maxSessions="200")
template(name="fields" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="timestamp" name="timestamp" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="appname" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="out") {
  ${
    this.options.asReceived === true
      ? `action(type="omfile" file="${this.output}" template="RSYSLOG_SyslogProtocol23Format" flushOnTXEnd="off" asyncWriting="on" ioBufferSize="256k" flushInterval="1")`
      : `action(type="omfile" file="${this.output}" template="fields" flushOnTXEnd="on")`
  }
}
input(type="imudp" address="127.0.0.1" port="${this.udpPort}" ruleset="out")
input(type="imtcp" address="127.0.0.1" port="${this.tcpPort}" ruleset="out")
input(type="imtcp" address="127.0.0.1" port="${this.tlsPort}" ruleset="out"
  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
${
  this.relpPort > 0
    ? `module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="${this.relpPort}" ruleset="out")`
    : ''
}
`,
    );
    this.child = spawn('/usr/sbin/rsyslogd', ['-n', '-f', this.conf, '-i', join(this.dir, 'rsyslog.pid')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const deadline = Date.now() + 15_000;
    for (const port of [this.tcpPort, this.tlsPort, ...(this.relpPort > 0 ? [this.relpPort] : [])]) {
      while (!(await canConnect(port))) {
        if (Date.now() > deadline || this.child.exitCode !== null)
          throw new Error(`rsyslogd did not start: ${this.stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return this;
  }

  /** SIGTERM and wait for exit (rsyslog flushes its queues on the way out). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    this.child = undefined;
  }

  /** Complete records written so far (a line rsyslog is still writing is left for the next read). */
  records(): RsyslogRecord[] {
    if (!existsSync(this.output)) return [];
    const text = readFileSync(this.output, 'utf8');
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as RsyslogRecord);
  }

  /** Lines written so far, counted without loading the file (benches write hundreds of MB). */
  async count(): Promise<number> {
    if (!existsSync(this.output)) return 0;
    let lines = 0;
    for await (const chunk of createReadStream(this.output)) {
      const buffer = chunk as Buffer;
      for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) lines++;
    }
    return lines;
  }

  /** Waits until rsyslog has written at least `count` lines (or the timeout passes). */
  async waitForCount(count: number, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = await this.count();
      if (lines >= count || Date.now() > deadline) return lines;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Waits until rsyslog has written at least `count` records (or the timeout passes). */
  async waitFor(count: number, timeoutMs = 10_000): Promise<RsyslogRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const records = this.records();
      if (records.length >= count || Date.now() > deadline) return records;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
