/**
 * Failure paths that once broke the delivery guarantees (issue: output isolation, item 4). Each
 * test builds the failure on purpose and checks what the user would see.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';
import { createLogger } from '../../src/ops/logger.js';
import { pollAccount, type PollDeps } from '../../src/pipeline/poll.js';
import { pollEveryAccount, roundServices } from '../../src/pipeline/run-once.js';
import { openOutputs } from '../../src/pipeline/runtime.js';
import { FileSink } from '../../src/sink/file.js';
import type { DeliveryResult, OutputRecord, Sink } from '../../src/sink/types.js';
import { CloudflareClient } from '../../src/source/cloudflare-client.js';
import { RateLimiter } from '../../src/source/rate-limiter.js';
import { realClock } from '../../src/clock.js';
import { emptyState, type SinkState } from '../../src/state/schema.js';
import { StateStore } from '../../src/state/store.js';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { collect, runCli, spawnCli } from '../support/cli.js';
import {
  ACCOUNT_A,
  ACCOUNT_B,
  exactlyOnceReport,
  readLines,
  tempDir,
  waitFor,
  writeConfig,
} from '../support/harness.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { QuietSink } from '../support/quiet-sink.js';

const logger = createLogger({ level: 'error', format: 'text' });
const canonical = (ms: number): string => `${new Date(ms).toISOString().slice(0, 23)}000000Z`;

/** A sink whose answers a test scripts, call by call. */
class ScriptedSink extends QuietSink {
  calls = 0;
  delivered: OutputRecord[] = [];
  constructor(
    readonly name: string,
    readonly concurrency: number,
    private readonly answer: (call: number, records: readonly OutputRecord[]) => Promise<DeliveryResult>,
  ) {
    super();
  }
  async deliver(records: readonly OutputRecord[]): Promise<DeliveryResult> {
    const result = await this.answer(++this.calls, records);
    if (result.status === 'delivered') this.delivered.push(...records);
    return result;
  }
}

describe('failure paths that broke the guarantees', function () {
  this.timeout(120_000);
  let sim: AccessApiSimulator;
  let client: CloudflareClient;

  beforeEach(async () => {
    sim = await new AccessApiSimulator().start();
    client = new CloudflareClient({
      baseUrl: sim.baseUrl,
      auth: { kind: 'token', token: sim.token },
      requestTimeoutMs: 5000,
      limiter: new RateLimiter({ requests: 10_000, perMs: 1000 }),
      userAgent: 'test',
    });
  });
  afterEach(async () => {
    client.close();
    await sim.stop();
  });

  function deps(sinks: Sink[], extra: Partial<PollDeps> = {}): PollDeps {
    return {
      client,
      state: { data: emptyState(), save: () => Promise.resolve() },
      outputs: sinks.map((sink) => ({ name: sink.name, sink, format: (e: AccessEvent) => JSON.stringify(e) })),
      logger,
      clock: realClock,
      pageSize: 100,
      deliveryAttempts: 1,
      ...extra,
    };
  }
  const plan = () => ({
    until: canonical(Date.now()),
    initialCheckpoint: canonical(Date.now() - 3_600_000),
    overlapMs: 0,
  });

  it('a dead-letter file that cannot be written fails the output (retried later), not the process', async () => {
    sim.addEvents(ACCOUNT_A, spreadEvents(50, Date.now() - 600_000, Date.now() - 1000, 1));
    const blocker = join(tempDir(), 'dead-letter');
    writeFileSync(blocker, 'a file where the dead-letter directory should be');
    const sink = new ScriptedSink('splunk', 1, (_call, records) =>
      Promise.resolve({
        status: 'delivered',
        rejected: records.slice(0, 3).map((record) => ({ record, reason: 'invalid event' })),
      }),
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const result = await pollAccount(
        { id: ACCOUNT_A, label: 'a' },
        plan(),
        deps([sink], { deadLetterPath: () => join(blocker, 'splunk.ndjson') }),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(
        result.failedOutputs.splunk?.message ?? '',
        /dead-letter file .*splunk\.ndjson cannot be written \((ENOTDIR|EEXIST)\); the batch is offered again later/,
      );
      assert.equal(result.stoppedOutputs.length, 0, 'not a stop: the disk may be fixed');
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a later batch failing does not refuse earlier batches its output confirmed (no re-send of them)', async () => {
    const events = spreadEvents(500, Date.now() - 600_000, Date.now() - 1000, 2);
    sim.addEvents(ACCOUNT_A, events);
    // Four batches in flight: the 3rd fails at once, the 1st and 2nd are confirmed a moment later.
    const sink = new ScriptedSink('hec', 4, async (call) => {
      if (call === 3) return { status: 'fatal', error: new Error('index does not exist') };
      await new Promise((resolve) => setTimeout(resolve, 150));
      return { status: 'delivered' };
    });
    const state = { data: emptyState(), save: () => Promise.resolve() };
    const result = await pollAccount({ id: ACCOUNT_A, label: 'a' }, plan(), deps([sink], { state }));
    const saved = state.data.accounts[ACCOUNT_A]?.outputs.hec;
    const second = sink.delivered.slice(100, 200).map((r) => r.event.created_at as string);
    console.log(
      `      delivered ${sink.delivered.length} in ${sink.calls} calls; committed ${saved?.delivered ?? 0}; failed: ${result.failedOutputs.hec?.message ?? '-'}`,
    );
    assert.equal(saved?.delivered, 200, 'batches 1 and 2 committed');
    assert.ok(
      saved.checkpoint >= canonical(Date.parse(second.reduce((a, b) => (a > b ? a : b)))),
      'the checkpoint covers batch 2',
    );
    assert.match(saved.last_error?.message ?? '', /index does not exist/);
  });

  it('a failed state save in one account does not skip the other accounts', async () => {
    // Older than the default settle time (2 min).
    sim.addEvents(ACCOUNT_A, spreadEvents(20, Date.now() - 600_000, Date.now() - 130_000, 3));
    sim.addEvents(ACCOUNT_B, spreadEvents(20, Date.now() - 600_000, Date.now() - 130_000, 4));
    const { config } = parseConfigText(
      `cloudflare: { api_token: t, accounts: [{ id: ${ACCOUNT_A} }, { id: ${ACCOUNT_B} }] }\noutputs: [{ name: x, type: stdout }]\n`,
      't',
      {},
    );
    const sink = new ScriptedSink('x', 1, () => Promise.resolve({ status: 'delivered' }));
    let saves = 0;
    const state = {
      data: emptyState(),
      save: () =>
        ++saves <= 3
          ? Promise.reject(
              Object.assign(new Error('cannot save the state file /x/state.json (ENOSPC)'), { code: 'ENOSPC' }),
            )
          : Promise.resolve(),
    };
    const round = {
      config,
      client,
      state,
      outputs: [{ name: 'x', sink, format: (e: AccessEvent) => JSON.stringify(e) }],
      logger,
      clock: realClock,
      ...roundServices(config, realClock),
    };
    const ok = await pollEveryAccount(round);
    assert.equal(ok, false);
    assert.ok(
      sim.requests.some((r) => r.account === ACCOUNT_B),
      'account B was polled',
    );
    assert.equal(sink.delivered.length, 40);
    assert.match(state.data.accounts[ACCOUNT_A]?.last_error?.message ?? '', /ENOSPC/);
  });

  it('an output that fails on its very first poll has a last_error for status', async () => {
    sim.addEvents(ACCOUNT_A, spreadEvents(5, Date.now() - 600_000, Date.now() - 1000, 5));
    const sink = new ScriptedSink('hec', 1, () =>
      Promise.resolve({ status: 'fatal', error: new Error('HTTP 403, code 4: Invalid token') }),
    );
    const state = { data: emptyState(), save: () => Promise.resolve() };
    await pollAccount({ id: ACCOUNT_A, label: 'a' }, plan(), deps([sink], { state }));
    const saved = state.data.accounts[ACCOUNT_A]?.outputs.hec;
    assert.match(saved?.last_error?.message ?? '', /Invalid token/);
    assert.equal(saved?.delivered, 0);
  });

  it('a file output cuts off a partial batch left by a failed write whose truncate failed too, before writing again', async () => {
    const dir = tempDir();
    const path = join(dir, 'out.ndjson');
    const sink = new FileSink('archive', path);
    await sink.open(undefined);
    const record = (n: number): OutputRecord => ({
      text: `{"n":${n}}`,
      event: {},
      epochMs: 0,
      accountId: 'a',
      id: `n${n}`,
    });
    assert.equal((await sink.deliver([record(1), record(2)])).status, 'delivered');
    // The next write fails halfway (ENOSPC) and taking it back fails as well.
    const handle = (
      sink as unknown as {
        handle: { write: (...a: unknown[]) => Promise<unknown>; truncate: (n: number) => Promise<void> };
      }
    ).handle;
    const { write, truncate } = handle;
    handle.write = async (data: unknown) => {
      await write.call(handle, (data as Buffer).subarray(0, 5));
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    handle.truncate = () => Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' }));
    assert.equal((await sink.deliver([record(3), record(4)])).status, 'retry');
    handle.write = write;
    handle.truncate = truncate;
    assert.equal((await sink.deliver([record(3), record(4)])).status, 'delivered');
    const text = readFileSync(path, 'utf8');
    const position = sink.position();
    await sink.close();
    assert.equal(text, '{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n');
    assert.equal(position.file?.size, statSync(path).size, 'the size the state would save is the real end of the file');
  });

  it("a commit racing SIGHUP rotation does not put the old file's position over the new file's", async () => {
    sim.addEvents(ACCOUNT_A, spreadEvents(30, Date.now() - 600_000, Date.now() - 1000, 6));
    const dir = tempDir();
    const path = join(dir, 'out.ndjson');
    const inner = new FileSink('archive', path);
    await inner.open(undefined);
    const state = { data: emptyState(), save: () => Promise.resolve() };
    // Rotated (logrotate + SIGHUP) right after the batch was written, before its commit is saved.
    let stale: SinkState | undefined;
    const rotating: Sink = {
      name: 'archive',
      exactlyOnce: true,
      concurrency: 1,
      open: () => Promise.resolve(),
      close: () => inner.close(),
      reopen: () => inner.reopen(),
      deliver: async (records) => {
        const result = await inner.deliver(records);
        stale = inner.position();
        renameSync(path, `${path}.1`);
        await inner.reopen();
        state.data.sinks.archive = inner.position(); // what the SIGHUP handler records
        return result;
      },
      position: () => {
        const answer = stale ?? inner.position();
        stale = undefined;
        return answer;
      },
    };
    await pollAccount({ id: ACCOUNT_A, label: 'a' }, plan(), deps([rotating], { state }));
    const current = statSync(path);
    await inner.close();
    assert.equal(state.data.sinks.archive?.file?.ino, current.ino, 'the saved position names the new file');
  });

  it('state saves failing for a while (disk full, then space back) in a running pipeline leave the file output exactly once, across a restart too', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.ndjson');
    const statePath = join(dir, 'state.json');
    const configPath = writeConfig(dir, {
      baseUrl: sim.baseUrl,
      statePath,
      pageSize: 100,
      outputs: `  - { name: archive, type: file, path: ${out}, format: json }`,
    });
    const { config } = parseConfigText(readFileSync(configPath, 'utf8'), configPath, {});
    const expected: AccessEvent[] = [];
    const add = (n: number, seed: number): void => {
      const now = Date.now();
      // Older than the ~2 s a poll leaves for later (settle 1 s, the API's whole-second Date
      // header), newer than the previous poll's end (polls are 2.5 s apart).
      const events = spreadEvents(n, now - 3000, now - 2200, seed);
      sim.addEvents(ACCOUNT_A, events);
      expected.push(...events);
    };
    const first = spreadEvents(3000, Date.now() - 3_600_000, Date.now() - 5000, 7);
    sim.addEvents(ACCOUNT_A, first);
    expected.push(...first);
    let store = await StateStore.open(statePath);
    let failing = false;
    let failedSaves = 0;
    const holder = {
      get data() {
        return store.data;
      },
      get dedup() {
        return store.dedup;
      },
      save: () =>
        failing
          ? (failedSaves++,
            Promise.reject(
              Object.assign(new Error(`cannot save the state file ${statePath} (ENOSPC)`), { code: 'ENOSPC' }),
            ))
          : store.save(),
    };
    let outputs = await openOutputs(config, store, logger);
    const services = roundServices(config, realClock);
    for (let round = 0; round < 6; round++) {
      failing = round === 1 || round === 2;
      await pollEveryAccount({ config, client, state: holder, outputs, logger, clock: realClock, ...services });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      add(400, 100 + round);
    }
    failing = false;
    await pollEveryAccount({ config, client, state: holder, outputs, logger, clock: realClock, ...services });
    const running = exactlyOnceReport(readLines(out), expected);
    const shippedWhileRunning = expected.length;
    // Then a crash while saves fail: the restart cuts the file back to what the state recorded.
    failing = true;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    add(300, 200);
    await pollEveryAccount({ config, client, state: holder, outputs, logger, clock: realClock, ...services });
    store.releaseLockNow();
    for (const output of outputs) await output.sink.close();
    failing = false;
    store = await StateStore.open(statePath);
    outputs = await openOutputs(config, store, logger);
    await pollEveryAccount({
      config,
      client,
      state: holder,
      outputs,
      logger,
      clock: realClock,
      ...roundServices(config, realClock),
    });
    for (const output of outputs) await output.sink.close();
    await store.close();
    const final = exactlyOnceReport(readLines(out), expected);
    console.log(
      `      ${failedSaves} failed saves; running: ${running.total} lines for ${running.total - running.duplicated} events (${running.duplicated} duplicated, ${running.missing} lost); after a crash and restart: ${final.total} lines for ${expected.length} events`,
    );
    assert.deepEqual(running, { missing: 0, duplicated: 0, unexpected: 0, total: shippedWhileRunning });
    assert.deepEqual(final, { missing: 0, duplicated: 0, unexpected: 0, total: expected.length });
  });
});

describe('state errors a user can act on', function () {
  this.timeout(60_000);

  function configAt(statePath: string): string {
    return writeConfig(tempDir(), {
      baseUrl: 'http://127.0.0.1:9/client/v4',
      statePath,
      outputs: '  - { name: console, type: stdout }',
    });
  }

  it('a directory at the state path, a file where its directory should be, a state from a newer release: check and run say the same thing', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'state-dir'));
    writeFileSync(join(dir, 'plain-file'), '');
    writeFileSync(join(dir, 'newer.json'), JSON.stringify({ version: 2, accounts: {}, sinks: {}, api: {} }));
    const cases: [string, RegExp][] = [
      [
        join(dir, 'state-dir'),
        /state\.path .*state-dir is a directory; set state\.path to a file in it, for example .*state-dir\/state\.json/,
      ],
      [
        join(dir, 'plain-file', 'state.json'),
        /cannot create the state directory .*plain-file: .*is a file, not a directory/,
      ],
      [
        join(dir, 'newer.json'),
        /written by a newer release of cf-access-shipper \(state version 2; this release reads version 1\)/,
      ],
    ];
    for (const [statePath, message] of cases) {
      const config = configAt(statePath);
      const run = await runCli(['run', '--once', '--config', config]);
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, message, `run with state.path ${statePath}`);
      assert.doesNotMatch(run.stderr, /^\s*at /m, 'no stack trace');
      const check = await runCli(['check', '--config', config]);
      assert.notEqual(check.code, 0, `check must fail where run fails (${statePath})`);
      assert.match(check.stdout + check.stderr, message, `check with state.path ${statePath}`);
    }
  });

  it('--recover-from-backup on a healthy state leaves it as it is', async () => {
    const sim = await new AccessApiSimulator().start();
    try {
      const dir = tempDir();
      const statePath = join(dir, 'state.json');
      const config = writeConfig(dir, {
        baseUrl: sim.baseUrl,
        statePath,
        outputs: `  - { name: archive, type: file, path: ${join(dir, 'out.ndjson')}, format: json }`,
      });
      sim.addEvents(ACCOUNT_A, spreadEvents(10, Date.now() - 600_000, Date.now() - 5000, 8));
      assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
      const after = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      sim.addEvents(ACCOUNT_A, spreadEvents(10, after, after + 300, 9));
      assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
      const before = readFileSync(statePath, 'utf8');
      const recovered = await runCli(['run', '--once', '--recover-from-backup', '--config', config]);
      assert.equal(recovered.code, 0, recovered.stderr);
      assert.match(recovered.stderr, /--recover-from-backup: .*state\.json is usable, so it was left as it is/);
      const now = JSON.parse(readFileSync(statePath, 'utf8')) as {
        accounts: Record<string, { outputs: { archive: { checkpoint: string } } }>;
      };
      const was = JSON.parse(before) as typeof now;
      assert.ok(
        now.accounts[ACCOUNT_A]!.outputs.archive.checkpoint >= was.accounts[ACCOUNT_A]!.outputs.archive.checkpoint,
        'not rolled back',
      );
      assert.equal(readLines(join(dir, 'out.ndjson')).length, 20, 'nothing shipped twice');
    } finally {
      await sim.stop();
    }
  });

  it('SIGTERM while HEC acknowledgements never come: the wait is cancelled at shutdown_timeout, the batch stays uncommitted, the state is saved and the lock released', async () => {
    const sim = await new AccessApiSimulator().start();
    const hec = await new HecSimulator({ ack: true, ackDelayMs: 600_000 }).start();
    try {
      const dir = tempDir();
      const statePath = join(dir, 'state.json');
      sim.addEvents(ACCOUNT_A, spreadEvents(50, Date.now() - 600_000, Date.now() - 5000, 10));
      const config = writeConfig(dir, {
        baseUrl: sim.baseUrl,
        statePath,
        outputs: `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", ack: true, ack_timeout: 10m, ack_poll_interval: 100ms }`,
        extra: 'daemon: { shutdown_timeout: 2s }',
      });
      const child = spawnCli(['run', '--config', config]);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const done = collect(child, { timeoutMs: 60_000 });
      await waitFor(() => hec.events.length === 50, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const signalled = Date.now();
      child.kill('SIGTERM');
      const result = await done;
      const seconds = (Date.now() - signalled) / 1000;
      console.log(
        `      stopped ${seconds.toFixed(1)} s after SIGTERM (shutdown_timeout 2 s, ack_timeout 10 min), exit ${String(result.code)}`,
      );
      assert.equal(result.code, 1, result.stderr);
      assert.ok(seconds < 10, `the ack wait was cancelled (${seconds} s)`);
      assert.ok(!existsSync(`${statePath}.lock`), 'the lock is released');
      const saved = JSON.parse(readFileSync(statePath, 'utf8')) as {
        accounts: Record<string, { outputs: Record<string, { delivered: number }> }>;
      };
      assert.equal(
        saved.accounts[ACCOUNT_A]?.outputs.splunk?.delivered ?? 0,
        0,
        'nothing unacknowledged was committed',
      );
      assert.match(stderr, /stopped waiting for 1 request\(s\) at shutdown/);
    } finally {
      await hec.stop();
      await sim.stop();
    }
  });
});
