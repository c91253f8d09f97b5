/**
 * API reads per event in a steady daemon: one simulated hour of polls (every minute, settle 2 m,
 * overlap 10 m: the defaults) at a steady event rate, on a virtual clock, through the real
 * pollAccount, Cloudflare client and state store, into an output that only counts. Prints API
 * requests, rows read per event delivered, and the state saves' count, size and time.
 * Run: npm run bench:reread   (BENCH_RATES=50,500 events/s; BENCH_MINUTES=60)
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/ops/logger.js';
import { pollAccount } from '../src/pipeline/poll.js';
import type { OutputRecord } from '../src/sink/types.js';
import { CloudflareClient } from '../src/source/cloudflare-client.js';
import { RateLimiter } from '../src/source/rate-limiter.js';
import { type Clock } from '../src/clock.js';
import { StateStore } from '../src/state/store.js';
import { AccessApiSimulator } from '../test/support/access-api-simulator.js';
import { QuietSink } from '../test/support/quiet-sink.js';

const RATES = (process.env.BENCH_RATES ?? '50,500').split(',').map(Number);
const MINUTES = Number(process.env.BENCH_MINUTES ?? 60);
const ACCOUNT = '0123456789abcdef0123456789abcdef';
const MINUTE = 60_000;
const SETTLE = 2 * MINUTE;
const OVERLAP = 10 * MINUTE;

function canonical(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000000Z`;
}

/** Virtual time: sleeping advances it at once. */
function virtualClock(startMs: number): Clock & { set(ms: number): void } {
  let now = startMs;
  return {
    now: () => now,
    set: (ms) => (now = ms),
    sleep: (ms) => {
      now += ms;
      return new Promise((resolve) => setImmediate(resolve));
    },
  };
}

class CountingSink extends QuietSink {
  readonly concurrency = 1;
  delivered = 0;
  constructor(readonly name: string) {
    super();
  }
  deliver(records: readonly OutputRecord[]): Promise<{ status: 'delivered' }> {
    this.delivered += records.length;
    return Promise.resolve({ status: 'delivered' });
  }
}

async function run(rate: number): Promise<void> {
  const startMs = Date.parse('2024-05-01T00:00:00Z');
  const stepNs = BigInt(Math.round(1e9 / rate));
  const sim = await new AccessApiSimulator().start();
  // Events from an hour before the first poll to past the last one, one every 1/rate s.
  const firstNs = BigInt(startMs - 60 * MINUTE) * 1_000_000n;
  sim.setGenerated(ACCOUNT, { count: Math.ceil((MINUTES + 70) * 60 * rate), startNs: firstNs, stepNs, seed: 5 });
  const dir = mkdtempSync(join(tmpdir(), 'bench-reread-'));
  const clock = virtualClock(startMs);
  const limiter = new RateLimiter({ requests: 100_000, perMs: 5 * MINUTE, clock });
  const client = new CloudflareClient({
    baseUrl: sim.baseUrl,
    auth: { kind: 'token', token: sim.token },
    requestTimeoutMs: 30_000,
    limiter,
    clock,
    userAgent: 'bench',
  });
  const store = await StateStore.open(join(dir, 'state.json'));
  let saves = 0;
  let saveMs = 0;
  let maxSaveMs = 0;
  const timed = {
    get data() {
      return store.data;
    },
    get dedup() {
      return store.dedup;
    },
    async save(): Promise<void> {
      const t = performance.now();
      await store.save();
      const ms = performance.now() - t;
      saves++;
      saveMs += ms;
      maxSaveMs = Math.max(maxSaveMs, ms);
    },
  };
  const sink = new CountingSink('null');
  const logger = createLogger({ level: 'error', format: 'text' });
  const wall = performance.now();
  let lastPollRequests = 0;
  for (let minute = 1; minute <= MINUTES; minute++) {
    const now = startMs + minute * MINUTE;
    clock.set(now);
    const before = sim.requests.length;
    await pollAccount(
      { id: ACCOUNT, label: ACCOUNT },
      {
        until: canonical(now - SETTLE),
        initialCheckpoint: canonical(now - SETTLE - MINUTE),
        overlapMs: OVERLAP,
        settleMs: SETTLE,
        sweepEveryMs: 5 * MINUTE,
      },
      { client, state: timed, outputs: [{ name: 'null', sink, format: () => '' }], logger, clock, pageSize: 1000 },
    );
    lastPollRequests = sim.requests.length - before;
  }
  await store.close();
  const rows = sim.requests.reduce((n, r) => n + r.rows, 0);
  const size = statSync(join(dir, 'state.json')).size;
  const journal = readdirSync(dir)
    .filter((f) => f.startsWith('state.json.dedup.'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  console.log(
    `${rate} events/s, ${MINUTES} polls (1/min), overlap 10m: delivered ${sink.delivered}, API requests ${sim.requests.length} (${(sim.requests.length / MINUTES).toFixed(1)}/poll, last poll ${lastPollRequests}), ` +
      `rows read ${rows} = ${(rows / sink.delivered).toFixed(2)} per event delivered; state saves ${saves}, ${(saveMs / saves).toFixed(1)} ms mean, ${maxSaveMs.toFixed(1)} ms max, state file ${(size / 1024).toFixed(0)} KiB, dedup journal ${(journal / 1024).toFixed(0)} KiB; wall ${((performance.now() - wall) / 1000).toFixed(1)} s`,
  );
  client.close();
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}

for (const rate of RATES) await run(rate);
