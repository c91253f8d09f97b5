/**
 * End to end through the CLI: every plausible reading of the Access API's undocumented paging
 * (test/support/access-paging-model.ts), through `backfill` and `run --once`, and the daemon for
 * one. Each prints served / shipped / duplicated / lost and the requests made.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';
import { AccessApiSimulator, clusterEvents, spreadEvents } from '../support/access-api-simulator.js';
import { describeBehaviour, type PagingBehaviour } from '../support/access-paging-model.js';
import { collect, runCli, spawnCli } from '../support/cli.js';
import { ACCOUNT_A, exactlyOnceReport, readLines, tempDir, waitFor, writeConfig } from '../support/harness.js';

const PAGE = 100;

interface Mode {
  name: string;
  behaviour: PagingBehaviour;
  /** Rows one response holds. */
  perResponse: number;
  /** Requests spent learning what the server takes (a refused size). */
  learning: number;
}

const MODES: Mode[] = [
  { name: '(a) honours the page size', behaviour: { mode: 'honours' }, perResponse: PAGE, learning: 0 },
  {
    name: '(b) at most 37 rows per response, offset by the size asked',
    behaviour: { mode: 'capped', cap: 37, offsetBy: 'asked' },
    perResponse: 37,
    learning: 0,
  },
  {
    name: '(b) at most 60 rows per response, offset by the rows served',
    behaviour: { mode: 'capped', cap: 60, offsetBy: 'served' },
    perResponse: 60,
    learning: 0,
  },
  {
    name: '(c) limit caps the whole result, per_page is the page size',
    behaviour: { mode: 'limit-total' },
    perResponse: PAGE,
    learning: 0,
  },
  {
    name: '(d) page and per_page ignored, limit only',
    behaviour: { mode: 'limit-only' },
    perResponse: PAGE,
    learning: 0,
  },
  {
    name: '(e) sizes outside 1, 5, 10, 20, 25, 50, 100, 1000 refused with 12091',
    behaviour: { mode: 'accepted-sizes' },
    perResponse: PAGE,
    learning: 1,
  },
];

describe('paging under every reading of page, per_page and limit (CLI end to end)', function () {
  this.timeout(180_000);
  let sim: AccessApiSimulator;
  afterEach(async () => {
    await sim.stop();
  });

  async function start(behaviour: PagingBehaviour): Promise<void> {
    sim = await new AccessApiSimulator({ paging: behaviour }).start();
  }

  function setup(overlap = '10m', sweepEvery?: string) {
    const dir = tempDir();
    const out = join(dir, 'out.ndjson');
    const config = writeConfig(dir, {
      baseUrl: sim.baseUrl,
      statePath: join(dir, 'state.json'),
      pageSize: PAGE,
      overlap,
      sweepEvery,
      outputs: `  - { name: archive, type: file, path: ${out}, format: json }`,
    });
    return { dir, out, config };
  }

  function report(label: string, out: string, expected: readonly AccessEvent[], requests: number, bound?: number) {
    const r = exactlyOnceReport(readLines(out), expected);
    console.log(
      `      ${label}: served ${expected.length}, shipped ${r.total}, duplicated ${r.duplicated}, lost ${r.missing}, ${requests} requests${bound === undefined ? '' : ` (bound ${bound})`}`,
    );
    assert.deepEqual(r, { missing: 0, duplicated: 0, unexpected: 0, total: expected.length });
    if (bound !== undefined) assert.ok(requests <= bound, `${requests} requests, bound ${bound}`);
  }

  for (const mode of MODES) {
    it(`${mode.name}: backfill and run --once ship everything once within ⌈N / rows per response⌉ + 1 requests`, async () => {
      await start(mode.behaviour);
      const now = Date.now();
      const events = spreadEvents(1234, now - 90 * 60_000, now - 60_000, 3);
      sim.addEvents(ACCOUNT_A, events);
      // Keyset costs nothing extra in (a)–(c); (d) re-reads the row at each key.
      const bound =
        mode.behaviour.mode === 'limit-only'
          ? undefined
          : Math.ceil(events.length / mode.perResponse) + 1 + mode.learning;

      const back = setup();
      const since = new Date(now - 2 * 3600_000).toISOString();
      const backfill = await runCli([
        'backfill',
        '--since',
        since,
        '--until',
        new Date(now).toISOString(),
        '--config',
        back.config,
      ]);
      assert.equal(backfill.code, 0, backfill.stderr);
      report(`${describeBehaviour(mode.behaviour)}, backfill`, back.out, events, sim.requests.length, bound);
      if (mode.behaviour.mode === 'limit-only') assert.match(backfill.stderr, /ignores the page parameter/);

      const before = sim.requests.length;
      const once = setup();
      const run = await runCli(['run', '--once', '--config', once.config]);
      assert.equal(run.code, 0, run.stderr);
      report(`${describeBehaviour(mode.behaviour)}, run --once`, once.out, events, sim.requests.length - before, bound);
    });
  }

  for (const mode of MODES.filter((m) => m.behaviour.mode !== 'limit-only')) {
    it(`${mode.name}: a run of 2,500 events at one created_at is paged through`, async () => {
      await start(mode.behaviour);
      const now = Date.now();
      const events = [
        ...spreadEvents(40, now - 80 * 60_000, now - 50 * 60_000, 8),
        ...clusterEvents(2500, now - 40 * 60_000),
        ...spreadEvents(40, now - 30 * 60_000, now - 60_000, 9),
      ];
      sim.addEvents(ACCOUNT_A, events);
      const { out, config } = setup();
      const run = await runCli(['run', '--once', '--config', config]);
      assert.equal(run.code, 0, run.stderr);
      report(
        `${describeBehaviour(mode.behaviour)}, 2,500 at one instant`,
        out,
        events,
        sim.requests.length,
        Math.ceil(events.length / mode.perResponse) + 2 + mode.learning,
      );
    });
  }

  it('(d) limit only: a run longer than one response is detected and logged; the rest of the window ships, exit 0', async () => {
    await start({ mode: 'limit-only' });
    const now = Date.now();
    const around = [
      ...spreadEvents(300, now - 80 * 60_000, now - 50 * 60_000, 8),
      ...spreadEvents(300, now - 30 * 60_000, now - 60_000, 9),
    ];
    const cluster = clusterEvents(250, now - 40 * 60_000);
    sim.addEvents(ACCOUNT_A, [...around, ...cluster]);
    const { out, config } = setup();
    const run = await runCli(['run', '--once', '--config', config]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /more events share the millisecond .* than one response holds \(100 read\).*cannot be read/,
    );
    const lines = readLines(out);
    const r = exactlyOnceReport(lines, [...around, ...cluster]);
    console.log(
      `      limit only, a 250-event instant: served 850, shipped ${r.total}, duplicated ${r.duplicated}, lost ${r.missing} (all of them in the instant, as logged), ${sim.requests.length} requests`,
    );
    assert.equal(r.duplicated, 0);
    assert.equal(r.missing, 150);
    assert.deepEqual(
      exactlyOnceReport(
        lines.filter((l) => !l.includes('cluster-')),
        around,
      ),
      { missing: 0, duplicated: 0, unexpected: 0, total: 600 },
    );
  });

  for (const mode of MODES.filter((m) => m.behaviour.mode !== 'limit-only')) {
    it(`${mode.name}, since leaving out rows at exactly its instant: events on whole seconds and a 250-event second ship once`, async () => {
      sim = await new AccessApiSimulator({ paging: mode.behaviour, sinceExclusive: true }).start();
      const now = Math.floor(Date.now() / 1000) * 1000;
      // Whole seconds: every event sits exactly on a millisecond a request could start at.
      const onSeconds = (count: number, fromMs: number, seed: number): AccessEvent[] =>
        spreadEvents(count, fromMs, fromMs + count * 1000, seed).map((e, i) => ({
          ...e,
          created_at: new Date(fromMs + i * 1000).toISOString().replace('.000Z', 'Z'),
        }));
      const events = [
        ...onSeconds(300, now - 3600_000, 12),
        ...onSeconds(250, now - 1800_000, 13).map((e) => ({
          ...e,
          created_at: new Date(now - 1800_000).toISOString(),
        })),
        ...onSeconds(200, now - 1200_000, 14),
      ];
      sim.addEvents(ACCOUNT_A, events);
      const { out, config } = setup();
      const run = await runCli(['run', '--once', '--config', config]);
      assert.equal(run.code, 0, run.stderr);
      report(
        `${describeBehaviour(mode.behaviour)}, since exclusive, whole seconds`,
        out,
        events,
        sim.requests.length,
        Math.ceil(events.length / mode.perResponse) + 2 + mode.learning,
      );
    });
  }

  it('rows that appear late inside the part of the window already read ship on a later poll, once', async () => {
    await start({ mode: 'capped', cap: 37, offsetBy: 'asked' });
    const now = Date.now();
    const first = spreadEvents(400, now - 50 * 60_000, now - 20_000, 1);
    sim.addEvents(ACCOUNT_A, first);
    // Created 4 s ago, inside what the first poll reads, but shown by the API only later.
    const late = spreadEvents(60, now - 4000, now - 3000, 4);
    sim.addEvents(ACCOUNT_A, late, { visibleAt: now + 3000 });
    const { out, config } = setup('12s', '1s');
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.equal(readLines(out).length, 400);
    // A sweep of the overlap finds them once they have settled (older than the 12 s overlap).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, now + 11_500 - Date.now())));
    const second = await runCli(['run', '--once', '--config', config]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /swept the overlap/);
    report('late rows, capped at 37', out, [...first, ...late], sim.requests.length);
  });

  it("a host clock 30 s ahead of the API's cannot step over events the API does not show yet", async () => {
    sim = await new AccessApiSimulator({ clockOffsetMs: -30_000 }).start();
    const apiNow = sim.now();
    const first = spreadEvents(100, apiNow - 10 * 60_000, apiNow - 2000, 6);
    sim.addEvents(ACCOUNT_A, first);
    const { out, config } = setup('5s');
    const run = await runCli(['run', '--once', '--config', config]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /this host's clock is about 3\d s ahead of the Cloudflare API's/);
    const afterFirst = sim.now();
    await new Promise((resolve) => setTimeout(resolve, 8000));
    // Created after the first poll by the API's clock (the host's clock called that time past),
    // and settled (older than settle + the Date header's one-second precision) by the second poll.
    const later = spreadEvents(50, afterFirst, sim.now() - 4000, 7);
    sim.addEvents(ACCOUNT_A, later);
    const second = await runCli(['run', '--once', '--config', config]);
    assert.equal(second.code, 0, second.stderr);
    report('host clock 30 s ahead', out, [...first, ...later], sim.requests.length);
  });

  it('the daemon under (b) with new events every poll: nothing lost or duplicated, at most 2 requests per steady poll', async () => {
    await start({ mode: 'capped', cap: 37, offsetBy: 'served' });
    const now = Date.now();
    const events = spreadEvents(500, now - 30 * 60_000, now - 5000, 5);
    sim.addEvents(ACCOUNT_A, events);
    const { out, config } = setup('20s');
    writeConfigSchedule(config);
    const child = spawnCli(['run', '--config', config]);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = collect(child, { timeoutMs: 120_000 });
    // The catch-up poll is over once its log line is out (the file fills before that).
    await waitFor(() => /fetched 500 in/.test(stderr), 60_000);
    const caughtUp = stderr.length;
    // A handful of new events for each of a few polls.
    const added: AccessEvent[] = [];
    const polls = (): number => stderr.match(/fetched \d+ in/g)?.length ?? 0;
    for (let round = 0; round < 4; round++) {
      // Right after a poll ends, so the events arrive between polls, not in the middle of one
      // (new rows mid-poll rightly cost a request more).
      const seen = polls();
      await waitFor(() => polls() > seen, 10_000);
      const batch = spreadEvents(5, Date.now(), Date.now() + 200, 20 + round); // past the checkpoint: new, not late
      added.push(...batch);
      sim.addEvents(ACCOUNT_A, batch);
      await waitFor(() => readLines(out).length === 500 + added.length, 30_000);
    }
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    const steady = [...stderr.slice(caughtUp).matchAll(/fetched \d+ in \d+ page\(s\) \/ (\d+) request\(s\)/g)].map(
      (m) => Number(m[1]),
    );
    console.log(`      requests per steady poll: ${steady.join(', ')}`);
    assert.ok(
      steady.length >= 4 && steady.every((n) => n <= 2),
      `at most 2 requests per steady poll: ${steady.join(', ')}`,
    );
    report('daemon, capped at 37', out, [...events, ...added], sim.requests.length);
    console.log(`      requests per steady poll: ${steady.join(', ')}`);
    assert.ok(
      steady.every((n) => n <= 2 * 2),
      `at most 2 requests per poll (one or two polls per round): ${steady.join(', ')}`,
    );
  });
});

/** Poll every second, settle 1 s. */
function writeConfigSchedule(path: string): void {
  writeFileSync(path, readFileSync(path, 'utf8').replace('poll:\n', 'poll:\n  schedule: "* * * * * *"\n'));
}
