/**
 * Backfills into the Elasticsearch `_bulk` simulator through the CLI, with faults: busy items and
 * requests, an outage mid-backfill, requests cut after they were indexed, and kill -9 many times.
 * Each prints sent / indexed / duplicated / lost; every event must be indexed exactly once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';
import { eventHash } from '../../src/format/identity.js';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { collect, spawnCli } from '../support/cli.js';
import { EsBulkSimulator } from '../support/es-bulk-simulator.js';
import { prng } from '../support/event-factory.js';
import { ACCOUNT_A, tempDir, writeConfig } from '../support/harness.js';

const STREAM = 'logs-cloudflare_access.access_requests-default';

function report(es: EsBulkSimulator, events: readonly AccessEvent[]) {
  const stored = new Set(es.streams.get(STREAM)?.keys() ?? []);
  const expected = new Set(events.map(eventHash));
  return {
    sent: events.length,
    indexed: es.docs.length,
    duplicated: es.duplicated,
    lost: [...expected].filter((id) => !stored.has(id)).length,
    unexpected: [...stored].filter((id) => !expected.has(id)).length,
  };
}

const print = (label: string, r: ReturnType<typeof report>, extra = ''): void =>
  console.log(
    `      ${label}: sent ${r.sent}, indexed ${r.indexed}, duplicated ${r.duplicated}, lost ${r.lost}${extra}`,
  );

describe('pipeline into Elasticsearch', function () {
  this.timeout(300_000);

  it('a backfill through busy items, busy requests, an outage and cut requests: every event once', async () => {
    const api = await new AccessApiSimulator({ latencyMs: 10 }).start();
    const es = await new EsBulkSimulator({
      authorization: 'ApiKey dGVzdDprZXk=',
      itemRejectShare: 0.1,
      requestBusyShare: 0.05,
    }).start();
    try {
      const dir = tempDir();
      const config = writeConfig(dir, {
        baseUrl: api.baseUrl,
        statePath: join(dir, 'state.json'),
        pageSize: 1000,
        outputs: `  - { name: elastic, type: elasticsearch, url: "${es.url}", api_key: "dGVzdDprZXk=", batch: { max_events: 500 } }`,
      });
      const day = Date.parse('2024-05-03T00:00:00Z');
      const events = spreadEvents(30_000, day, day + 12 * 3600_000, 404);
      api.addEvents(ACCOUNT_A, events);
      // Three requests are indexed and then cut before their answer (the client resends them: 409s).
      es.cutAfterIndex = 3;
      const child = spawnCli([
        'backfill',
        '--since',
        '2024-05-03T00:00:00Z',
        '--until',
        '2024-05-03T12:00:00Z',
        '--config',
        config,
      ]);
      const done = collect(child);
      // An outage of 2 s once a third is in.
      const port = es.port;
      await new Promise<void>((resolve) => {
        const watch = setInterval(() => {
          if (es.docs.length < 10_000) return;
          clearInterval(watch);
          void es.outage().then(() => setTimeout(() => void es.start(port).then(() => resolve()), 2000));
        }, 10);
      });
      const result = await done;
      assert.equal(result.code, 0, result.stderr.slice(-2000));
      const r = report(es, events);
      print(
        'faults',
        r,
        `; ${es.creates} creates, ${es.conflicts} answered 409 (already indexed), ${es.requests} requests`,
      );
      assert.deepEqual(
        { duplicated: r.duplicated, lost: r.lost, unexpected: r.unexpected },
        { duplicated: 0, lost: 0, unexpected: 0 },
      );
      assert.equal(r.indexed, 30_000);
      assert.ok(es.conflicts > 0, 'the cut requests were sent again and absorbed by 409s');
    } finally {
      await api.stop();
      await es.stop();
    }
  });

  it('kill -9 at random moments, many times: every event indexed exactly once', async () => {
    const api = await new AccessApiSimulator({ latencyMs: 60 }).start();
    const es = await new EsBulkSimulator({ itemRejectShare: 0.05 }).start();
    try {
      const dir = tempDir();
      const config = writeConfig(dir, {
        baseUrl: api.baseUrl,
        statePath: join(dir, 'state.json'),
        pageSize: 1000,
        outputs: `  - { name: elastic, type: elasticsearch, url: "${es.url}", batch: { max_events: 250 } }`,
      });
      const day = Date.parse('2024-05-03T00:00:00Z');
      const events = spreadEvents(40_000, day, day + 12 * 3600_000, 505);
      api.addEvents(ACCOUNT_A, events);
      const args = [
        'backfill',
        '--since',
        '2024-05-03T00:00:00Z',
        '--until',
        '2024-05-03T12:00:00Z',
        '--config',
        config,
      ];
      const rand = prng(20261203);
      let kills = 0;
      for (let round = 0; round < 60; round++) {
        const child = spawnCli(args);
        const done = collect(child);
        // Killed once Elasticsearch has taken a random 250–4,000 more events in this run (plus up
        // to 150 ms), so kills land mid-stream however fast this machine is.
        const atStart = es.creates;
        const progress = 250 + Math.floor(rand() * 3750);
        const extraMs = Math.floor(rand() * 150);
        const watch =
          kills < 12
            ? setInterval(() => {
                if (es.creates - atStart < progress) return;
                clearInterval(watch);
                setTimeout(() => child.kill('SIGKILL'), extraMs);
              }, 10)
            : undefined;
        const result = await done;
        clearInterval(watch);
        if (result.signal === 'SIGKILL') {
          kills++;
          continue;
        }
        assert.equal(result.code, 0, result.stderr.slice(-2000));
        if (/complete: \d+ events/.test(result.stdout)) break;
      }
      const r = report(es, events);
      print(`${kills} kills`, r, `; ${es.conflicts} resent events absorbed by 409`);
      assert.ok(kills >= 8, `only ${kills} kills landed`);
      assert.deepEqual(
        { duplicated: r.duplicated, lost: r.lost, unexpected: r.unexpected },
        { duplicated: 0, lost: 0, unexpected: 0 },
      );
      assert.equal(r.indexed, 40_000);
    } finally {
      await api.stop();
      await es.stop();
    }
  });
});
