import assert from 'node:assert/strict';
import {
  cooldownAfter429,
  MAX_SERVER_WAIT_MS,
  parseRateLimitReset,
  tightestRateLimit,
} from '../../src/source/retry.js';
import { backoffDelay, parseRetryAfter } from '../../src/net/backoff.js';
import { RateLimiter } from '../../src/source/rate-limiter.js';
import { type Clock } from '../../src/clock.js';
import { eventHash } from '../../src/format/identity.js';
import { OutputCursor, type Row } from '../../src/pipeline/cursor.js';

function fakeClock(): Clock & { t: number; slept: number[] } {
  const clock = {
    t: 1_000_000,
    slept: [] as number[],
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.slept.push(ms);
      clock.t += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

describe('source/retry', () => {
  it('backs off exponentially with jitter, capped', () => {
    const opts = { baseMs: 1000, capMs: 30_000 };
    assert.equal(
      backoffDelay(0, opts, () => 1),
      1000,
    );
    assert.equal(
      backoffDelay(0, opts, () => 0),
      500,
    );
    assert.equal(
      backoffDelay(3, opts, () => 1),
      8000,
    );
    assert.equal(
      backoffDelay(20, opts, () => 1),
      30_000,
    );
    assert.equal(
      backoffDelay(1000, opts, () => 1),
      30_000,
    );
  });

  it('reads Retry-After as seconds or an HTTP date, and the RateLimit headers', () => {
    const now = Date.parse('2024-05-01T10:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Wed, 01 May 2024 10:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 01 May 2024 09:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRateLimitReset({ ratelimit: '"default";r=0;t=42' }), 42_000);
    assert.equal(parseRateLimitReset({ 'ratelimit-reset': '17' }), 17_000);
    assert.equal(cooldownAfter429({}, now), 300_000, 'five minutes when nothing says otherwise');
    assert.equal(cooldownAfter429({ 'retry-after': '3', ratelimit: '"default";r=0;t=42' }, now), 3000);
  });

  it('reads every item of the Ratelimit list and acts on the tightest; honours retry-after-ms; caps every wait', () => {
    const now = Date.parse('2024-05-01T10:00:00Z');
    assert.deepEqual(tightestRateLimit({ ratelimit: '"default";r=50;t=30, "burst";r=2;t=1' }), {
      remaining: 2,
      resetMs: 1000,
    });
    assert.deepEqual(
      tightestRateLimit({ ratelimit: ['"default";r=5;t=300', '"burst";r=5;t=10'] }),
      { remaining: 5, resetMs: 300_000 },
      'a tie: the later reset',
    );
    assert.deepEqual(tightestRateLimit({ 'ratelimit-remaining': '7', 'ratelimit-reset': '60' }), {
      remaining: 7,
      resetMs: 60_000,
    });
    assert.equal(tightestRateLimit({}), undefined);
    assert.equal(cooldownAfter429({ 'retry-after-ms': '1500', 'retry-after': '30' }, now), 1500);
    assert.equal(cooldownAfter429({ ratelimit: '"default";r=9;t=100, "burst";r=0;t=7' }, now), 7000);
    assert.equal(cooldownAfter429({ 'retry-after': '86400' }, now), MAX_SERVER_WAIT_MS, 'a day from a proxy is capped');
    assert.equal(tightestRateLimit({ ratelimit: '"default";r=0;t=86400' })?.resetMs, MAX_SERVER_WAIT_MS);
  });
});

describe('source/rate-limiter', () => {
  it('spends a burst, then paces to requests/per', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 3, perMs: 3000, clock });
    for (let i = 0; i < 3; i++) await limiter.take();
    assert.deepEqual(clock.slept, []);
    await limiter.take();
    assert.deepEqual(clock.slept, [1000]);
  });

  it('blocks every caller during a cooldown and reports it once', async () => {
    const clock = fakeClock();
    const reported: number[] = [];
    const limiter = new RateLimiter({ requests: 100, perMs: 1000, clock, onCooldown: (until) => reported.push(until) });
    limiter.coolDown(clock.t + 5000, 'test');
    limiter.coolDown(clock.t + 1000, 'shorter: ignored');
    await Promise.all([limiter.take(), limiter.take()]);
    assert.deepEqual(reported, [1_005_000]);
    assert.equal(clock.t, 1_005_000);
  });
});

describe("source/rate-limiter and the server's own budget", () => {
  it('paces when the server says its budget runs low, and waits for the reset when none is left', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 1000, perMs: 1000, clock });
    limiter.observe(500, 60_000);
    for (let i = 0; i < 3; i++) await limiter.take();
    assert.deepEqual(clock.slept, [], 'plenty left: no pacing');
    limiter.observe(10, 60_000); // 10 left for a minute: one request every 6 s
    await limiter.take();
    await limiter.take();
    assert.deepEqual(clock.slept, [6000, 6000]);
    limiter.observe(0, 20_000);
    const before = clock.t;
    await limiter.take();
    assert.ok(clock.t - before >= 20_000, 'no request before the reset');
  });

  it("never sends more than 200 requests in one second (Cloudflare's per-IP limit)", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 100_000, perMs: 1000, clock });
    for (let i = 0; i < 200; i++) await limiter.take();
    assert.deepEqual(clock.slept, []);
    await limiter.take();
    assert.equal(
      clock.slept.reduce((a: number, b: number) => a + b, 0),
      1000,
    );
  });
});

describe('format/identity', () => {
  it('hashes the whole content, independent of key order', () => {
    const a = eventHash({ ray_id: 'r', user_email: 'a', nested: { x: 1, y: [1, 2] } });
    assert.equal(a, eventHash({ nested: { y: [1, 2], x: 1 }, user_email: 'a', ray_id: 'r' }));
    assert.notEqual(
      a,
      eventHash({ ray_id: 'r', user_email: 'b', nested: { x: 1, y: [1, 2] } }),
      'same ray_id, other row',
    );
    assert.equal(a.length, 16);
  });
});

describe('pipeline/cursor', () => {
  it('remembers delivered hashes until a sweep passes them, and never moves back', () => {
    const cursor = new OutputCursor('2024-05-01T10:00:00.000000000Z', 60_000);
    assert.equal(
      cursor.floor,
      '2024-05-01T10:00:00.000000000Z',
      'a new output sweeps nothing before its first checkpoint',
    );
    const e1 = { event: {}, time: '2024-05-01T10:00:30.000000000Z', epochMs: 0, hash: 'h1' };
    const e2 = { event: {}, time: '2024-05-01T10:05:00.000000000Z', epochMs: 0, hash: 'h2' };
    cursor.advance([e1], e1.time);
    assert.ok(cursor.has(e1));
    cursor.advance([e2], e2.time);
    assert.ok(cursor.has(e1), 'kept: no sweep has passed it yet');
    assert.equal(cursor.sweepEnd, '2024-05-01T10:04:00.000000000Z');
    cursor.sweptTo(e2.time);
    assert.equal(cursor.swept, '2024-05-01T10:04:00.000000000Z', 'a sweep never passes checkpoint − overlap');
    assert.ok(!cursor.has(e1), 'swept: forgotten');
    assert.ok(cursor.has(e2));
    cursor.advance([], '2024-05-01T10:01:00.000000000Z');
    assert.equal(cursor.checkpoint, e2.time);
    assert.equal(cursor.dedupSize, 1);
    assert.deepEqual(cursor.dedupState(), { [e2.time]: ['h2'] });
    const restored = new OutputCursor(cursor.checkpoint, 60_000, {
      checkpoint: cursor.checkpoint,
      swept: cursor.swept,
      dedup: cursor.dedupState(),
      delivered: 2,
    });
    assert.equal(restored.swept, cursor.swept);
    assert.ok(restored.has(e2));
    const legacy = new OutputCursor(cursor.checkpoint, 60_000, {
      checkpoint: cursor.checkpoint,
      dedup: {},
      delivered: 2,
    });
    assert.equal(
      legacy.swept,
      '2024-05-01T10:04:00.000000000Z',
      'a state from before sweeps starts at checkpoint − overlap',
    );
  });

  it('hashes only what it has to: rows left behind the overlap are never hashed', () => {
    const cursor = new OutputCursor('2024-05-01T10:00:00.000000000Z', 0);
    const old = { event: { n: 1 }, time: '2024-05-01T10:00:01.000000000Z', epochMs: 0 } as Row;
    const last = { event: { n: 2 }, time: '2024-05-01T10:00:02.000000000Z', epochMs: 0 } as Row;
    cursor.advance([old, last], last.time);
    assert.equal(old.hash, undefined, 'behind the new floor: not hashed');
    assert.equal(typeof last.hash, 'string', 'at the checkpoint: hashed and remembered');
    const again = { event: { n: 2 }, time: last.time, epochMs: 0 } as Row;
    assert.ok(cursor.has(again), 'a replay at the checkpoint time is recognized');
    const other = { event: { n: 3 }, time: '2024-05-01T10:00:03.000000000Z', epochMs: 0 } as Row;
    assert.ok(!cursor.has(other));
    assert.equal(other.hash, undefined, 'nothing remembered at that time: no need to hash');
  });
});

describe('format/identity canonical form', () => {
  it('sorts keys at every depth and drops undefined like JSON', async () => {
    const { canonicalJson } = await import('../../src/format/identity.js');
    assert.equal(
      canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null }, u: undefined }),
      '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}',
    );
  });
});
