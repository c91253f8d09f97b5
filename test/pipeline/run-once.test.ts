import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccessApiSimulator, clusterEvents, spreadEvents } from '../support/access-api-simulator.js';
import { runCli } from '../support/cli.js';
import { ACCOUNT_A, ACCOUNT_B, exactlyOnceReport, readLines, tempDir, writeConfig } from '../support/harness.js';
import type { StateData } from '../../src/state/schema.js';

describe('run --once against the Access API simulator', function () {
  this.timeout(120_000);
  let sim: AccessApiSimulator;

  beforeEach(async () => {
    sim = await new AccessApiSimulator({ outOfWindowRows: true, resultInfo: true, zeroTotalCount: true }).start();
  });
  afterEach(async () => {
    await sim.stop();
  });

  function setup(
    options: {
      pageSize?: number;
      outputs?: string;
      accounts?: { id: string; name?: string }[];
      overlap?: string;
      sweepEvery?: string;
    } = {},
  ) {
    const dir = tempDir();
    const out = join(dir, 'out.ndjson');
    const state = join(dir, 'state.json');
    const config = writeConfig(dir, {
      baseUrl: sim.baseUrl,
      statePath: state,
      pageSize: options.pageSize ?? 100,
      accounts: options.accounts,
      overlap: options.overlap,
      sweepEvery: options.sweepEvery,
      outputs: options.outputs ?? `  - { name: archive, type: file, path: ${out}, format: json }`,
    });
    return { dir, out, state, config };
  }

  it('ships every event once, with inclusive ends, out-of-window rows and total_count 0', async () => {
    const now = Date.now();
    const events = spreadEvents(450, now - 90 * 60_000, now - 30_000);
    sim.addEvents(ACCOUNT_A, events);
    const { out, state, config } = setup();
    const result = await runCli(['run', '--once', '--config', config]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(exactlyOnceReport(readLines(out), events), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 450,
    });
    const saved = JSON.parse(readFileSync(state, 'utf8')) as StateData;
    const cursor = saved.accounts[ACCOUNT_A]!.outputs.archive!;
    assert.equal(cursor.delivered, 450);
    assert.ok(existsSync(`${state}.bak`));
    // ⌈450/100⌉ = 5 pages and one closing request: a short page proves nothing (keyset paging).
    assert.equal(sim.requests.length, 6);
    assert.ok(sim.requests.slice(0, 5).every((r) => r.perPage === 100));
    assert.deepEqual(
      sim.requests.slice(0, 5).map((r) => r.page),
      [1, 2, 2, 2, 2],
      'page 2 from the first row of the last response',
    );
    assert.match(result.stderr, /fetched 450 in 6 page\(s\)/);
  });

  it('sends direction, since, until, page, per_page and limit, and the bearer token', async () => {
    const now = Date.now();
    sim.addEvents(ACCOUNT_A, spreadEvents(3, now - 60_000, now - 10_000));
    const seen: string[] = [];
    const original = sim.requests.push.bind(sim.requests);
    sim.requests.push = (...items) => {
      for (const item of items) seen.push(`${item.since ?? ''}|${item.until ?? ''}`);
      return original(...items);
    };
    const { config } = setup();
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.match(seen[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('repeated runs ship late events inside the overlap, and nothing twice', async () => {
    // A 12 s overlap swept every second, so late arrivals are caught within seconds.
    const now = Date.now();
    const first = spreadEvents(120, now - 60 * 60_000, now - 20_000, 1);
    sim.addEvents(ACCOUNT_A, first);
    // Created 4 s ago, but the API only shows them 5 s from now (past the settle time).
    const hidden = spreadEvents(10, now - 4000, now - 3000, 4);
    sim.addEvents(ACCOUNT_A, hidden, { visibleAt: now + 5000 });
    const { out, config } = setup({ overlap: '12s', sweepEvery: '1s' });
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.equal(readLines(out).length, 120);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, now + 5000 - Date.now())));
    // More late ones, created before the checkpoint, inside the overlap.
    const late = spreadEvents(15, now - 3000, now - 2000, 2);
    sim.addEvents(ACCOUNT_A, late);
    const second = await runCli(['run', '--once', '--config', config]);
    assert.equal(second.code, 0, second.stderr);
    // A sweep reads the part of the overlap that has settled: wait until all of them have.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, now + 11_500 - Date.now())));
    const third = await runCli(['run', '--once', '--config', config]);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /swept the overlap/);
    assert.deepEqual(exactlyOnceReport(readLines(out), [...first, ...hidden, ...late]), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 145,
    });
  });

  it('ships a 2,500-event cluster at one timestamp exactly once across pages and runs', async () => {
    const now = Date.now();
    const cluster = clusterEvents(2500, now - 30 * 60_000);
    const around = spreadEvents(40, now - 40 * 60_000, now - 20_000, 3);
    sim.addEvents(ACCOUNT_A, [...cluster, ...around]);
    const { out, config } = setup({ pageSize: 1000 });
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.deepEqual(exactlyOnceReport(readLines(out), [...cluster, ...around]), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 2540,
    });
  });

  it('honours 429 Retry-After, saves the cooldown, and retries 5xx, resets and malformed pages', async () => {
    const now = Date.now();
    const events = spreadEvents(300, now - 60 * 60_000, now - 20_000);
    sim.addEvents(ACCOUNT_A, events);
    // Page 1: 429, 502, reset; page 2 clean; page 3: malformed, schema-invalid, 503.
    sim.faults.push(
      { kind: '429', retryAfter: '1' },
      { kind: 'status', status: 502 },
      { kind: 'reset' },
      { kind: 'delay', ms: 1, times: 2 },
      { kind: 'malformed' },
      { kind: 'schema' },
      { kind: 'status', status: 503 },
    );
    const { out, state, config } = setup();
    const started = Date.now();
    const result = await runCli(['run', '--once', '--config', config]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Date.now() - started >= 1000, 'waited out Retry-After');
    assert.match(result.stderr, /rate limited \(HTTP 429\)/);
    assert.deepEqual(exactlyOnceReport(readLines(out), events), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 300,
    });
    const saved = JSON.parse(readFileSync(state, 'utf8')) as StateData;
    assert.ok(saved.api.cooldown_until !== undefined, 'cooldown persisted');
  });

  it('a restart waits out a cooldown a previous run saved', async () => {
    const now = Date.now();
    sim.addEvents(ACCOUNT_A, spreadEvents(5, now - 60_000, now - 10_000));
    const { state, config } = setup();
    // Long enough that the CLI is up before it ends, even on a loaded machine.
    const cooldownUntil = Date.now() + 5000;
    writeFileSync(
      state,
      JSON.stringify({
        version: 1,
        accounts: {},
        sinks: {},
        api: { cooldown_until: new Date(cooldownUntil).toISOString(), cooldown_reason: 'test' },
      }),
    );
    const result = await runCli(['run', '--once', '--config', config]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(sim.requests[0]!.at >= cooldownUntil - 5, 'no request during the saved cooldown');
    assert.match(result.stderr, /waiting until/);
  });

  it('a page that stays malformed fails the poll without committing past it; the next run completes', async () => {
    const now = Date.now();
    const events = spreadEvents(300, now - 60 * 60_000, now - 20_000);
    sim.addEvents(ACCOUNT_A, events);
    const { out, state, config } = setup();
    // Page 1 and 2 succeed, then page 3 is malformed on every attempt.
    sim.faults.push({ kind: 'delay', ms: 1, times: 2 }, { kind: 'malformed', times: 6 });
    const failed = await runCli(['run', '--once', '--config', config]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /ERR_CF_UNAVAILABLE|unusable .* after 6 attempt/);
    assert.equal(readLines(out).length, 200);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as StateData;
    assert.equal(saved.accounts[ACCOUNT_A]!.outputs.archive!.delivered, 200);
    const ok = await runCli(['run', '--once', '--config', config]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(exactlyOnceReport(readLines(out), events), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 300,
    });
  }).timeout(180_000);

  it('two accounts, one forbidden: the other is fully shipped and the error names the permission', async () => {
    await sim.stop();
    sim = await new AccessApiSimulator({ forbiddenAccounts: [ACCOUNT_B] }).start();
    const now = Date.now();
    const events = spreadEvents(250, now - 60 * 60_000, now - 20_000);
    sim.addEvents(ACCOUNT_A, events);
    sim.addEvents(ACCOUNT_B, spreadEvents(10, now - 60_000, now - 20_000, 9));
    const { out, config } = setup({
      accounts: [
        { id: ACCOUNT_B, name: 'lab' },
        { id: ACCOUNT_A, name: 'corp' },
      ],
    });
    const result = await runCli(['run', '--once', '--config', config]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /account lab .*HTTP 403, code 10000: Authentication error.*Account → "Access: Audit Logs Read"/,
    );
    assert.equal(sim.requests.filter((r) => r.account === ACCOUNT_B).length, 1, 'a 403 is not retried');
    assert.deepEqual(exactlyOnceReport(readLines(out), events), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 250,
    });
  });

  it('one output failing does not stall or re-send another', async () => {
    const now = Date.now();
    const events = spreadEvents(200, now - 60 * 60_000, now - 20_000);
    sim.addEvents(ACCOUNT_A, events);
    const dir = tempDir();
    const good = join(dir, 'good.ndjson');
    const bad = join(dir, 'bad.ndjson');
    symlinkSync('/dev/full', bad); // every write fails with ENOSPC
    const config = writeConfig(dir, {
      baseUrl: sim.baseUrl,
      statePath: join(dir, 'state.json'),
      outputs: `  - { name: good, type: file, path: ${good}, format: json }\n  - { name: bad, type: file, path: ${bad}, format: cef }`,
    });
    const first = await runCli(['run', '--once', '--config', config]);
    assert.equal(first.code, 1);
    assert.match(first.stderr, /output bad .*ENOSPC/);
    assert.deepEqual(exactlyOnceReport(readLines(good), events), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 200,
    });
    // The disk is fixed: the failed output catches up from its own checkpoint, the other re-sends nothing.
    unlinkSync(bad);
    const after = Date.now();
    // The run reads up to settle (1 s) before the API's clock, whose Date header has whole seconds:
    // events newer than about 2 s are left for the next run, so these are made older than that.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const more = spreadEvents(20, after, after + 400, 77);
    sim.addEvents(ACCOUNT_A, more);
    const second = await runCli(['run', '--once', '--config', config]);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(exactlyOnceReport(readLines(good), [...events, ...more]), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 220,
    });
    assert.equal(readLines(bad).length, 220);
    assert.equal(new Set(readLines(bad)).size, 220);
  });

  it('a corrupt state file is a clear error and nothing is shipped; --recover-from-backup continues', async () => {
    const now = Date.now();
    const events = spreadEvents(150, now - 60 * 60_000, now - 20_000);
    sim.addEvents(ACCOUNT_A, events);
    const { out, state, config } = setup();
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    const before = readFileSync(out, 'utf8');
    writeFileSync(state, readFileSync(state, 'utf8').slice(0, 40));
    const requestsBefore = sim.requests.length;
    const broken = await runCli(['run', '--once', '--config', config]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /state file .*state\.json is unusable: it is not valid JSON .*--recover-from-backup/);
    assert.equal(readFileSync(out, 'utf8'), before, 'nothing shipped');
    assert.equal(sim.requests.length, requestsBefore, 'no API call');
    writeFileSync(state, '');
    assert.match((await runCli(['run', '--once', '--config', config])).stderr, /the file is empty/);
    const recovered = await runCli(['run', '--once', '--recover-from-backup', '--config', config]);
    assert.equal(recovered.code, 0, recovered.stderr);
    assert.deepEqual(exactlyOnceReport(readLines(out), events), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 150,
    });
  });

  it('a second process on the same state exits 1 naming the holder pid', async () => {
    const { state, config } = setup();
    const { spawn } = await import('node:child_process');
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    writeFileSync(`${state}.lock`, `${holder.pid}\n`);
    try {
      const result = await runCli(['run', '--once', '--config', config]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`in use by another cf-access-shipper process \\(pid ${holder.pid}`));
    } finally {
      holder.kill();
    }
    // A lock left by a dead process is taken over.
    writeFileSync(`${state}.lock`, '999999\n');
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
  });
});
