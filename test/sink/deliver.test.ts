import assert from 'node:assert/strict';
import { deliverWithRetry } from '../../src/sink/deliver.js';
import type { DeliveryResult, OutputRecord, Sink } from '../../src/sink/types.js';

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const instant = { now: () => 0, sleep: () => Promise.resolve() };

function scripted(answers: DeliveryResult[]): Sink & { calls: number } {
  const sink = {
    name: 'out',
    exactlyOnce: false,
    concurrency: 1,
    calls: 0,
    open: () => Promise.resolve(),
    position: () => undefined,
    reopen: () => Promise.resolve(),
    close: () => Promise.resolve(),
    deliver: (): Promise<DeliveryResult> => {
      const answer = answers[sink.calls] ?? { status: 'delivered' };
      sink.calls++;
      return Promise.resolve(answer);
    },
  };
  return sink;
}

const down: DeliveryResult = { status: 'retry', error: new Error('ECONNREFUSED') };
const busy: DeliveryResult = { status: 'retry', error: new Error('HTTP 503, code 9: Server is busy'), busy: true };
const options = { attempts: 3, clock: instant, logger: quiet, backoff: () => 1 };
const records: OutputRecord[] = [];

describe('sink/deliver: attempts', () => {
  it('counts failures: 3 attempts, 3 refusals → failed', async () => {
    const sink = scripted([down, down, down]);
    const outcome = await deliverWithRetry({ name: 'out', sink }, records, options);
    assert.equal(outcome.status, 'failed');
    assert.equal(sink.calls, 3);
  });

  it('does not count busy answers: an outage using two attempts, then busy answers, still delivers', async () => {
    const sink = scripted([down, down, busy, busy, busy, busy, busy]);
    const outcome = await deliverWithRetry({ name: 'out', sink }, records, options);
    assert.equal(outcome.status, 'delivered');
    assert.equal(sink.calls, 8);
  });

  it('bounds the busy answers it does not count (30), then counts them', async () => {
    const sink = scripted(Array.from({ length: 100 }, () => busy));
    const outcome = await deliverWithRetry({ name: 'out', sink }, records, options);
    assert.equal(outcome.status, 'failed');
    assert.equal(sink.calls, 30 + 3);
  });
});
