/**
 * A slice read in a worker (identities from the line left to the receiving side, posted as
 * columns) is, once decoded, the slice the receiver's own thread prepares: same ids, keys, times,
 * lines and events, for a dataset identified by its line and for one identified by its event and
 * shared with polling.
 */
import assert from 'node:assert/strict';
import { DATASETS } from '../../src/datasets/index.js';
import type { Dataset } from '../../src/datasets/dataset.js';
import type { BodyLine } from '../../src/push/body.js';
import { prepareSlice, type PushedEvent } from '../../src/push/pushed-record.js';
import { decodeSlice, encodeSlice } from '../../src/push/slice-message.js';

const view = (e: PushedEvent) => ({
  id: e.id,
  key: e.key,
  ts: e.ts,
  timeText: e.timeText,
  line: e.line,
  text: e.text,
  event: e.event,
});

function roundTrip(dataset: Dataset, lines: BodyLine[], shared: boolean) {
  const here = prepareSlice(dataset, lines, shared);
  const posted = encodeSlice(prepareSlice(dataset, lines, shared, false), dataset);
  // What the structured clone does to it on the way.
  const there = decodeSlice(structuredClone(posted), dataset);
  return { here, there, posted };
}

const numbered = (texts: string[]): BodyLine[] => texts.map((text, i) => ({ text, number: i + 1 }));

describe('push/slice-message: a worker slice decoded is the slice read in the receiver', () => {
  it('http_requests: ids from the line computed on the receiving side; bad lines kept with their numbers', () => {
    const dataset = DATASETS.http_requests as Dataset;
    const lines = numbered([
      // unixnano as Logpush writes it: more digits than a double keeps.
      '{"EdgeStartTimestamp":1714557600123456789,"RayID":"a","ClientRequestURI":"/é"}',
      '  {"EdgeStartTimestamp":"2024-05-01T10:00:00.5Z","RayID":"b"}  ',
      'not json',
      JSON.stringify({ EdgeStartTimestamp: 1714557600, RayID: 'c' }),
      JSON.stringify({ RayID: 'no time' }),
    ]);
    const { here, there, posted } = roundTrip(dataset, lines, false);
    assert.equal(posted.ids, null, 'the worker leaves a line identity to the receiving side');
    assert.equal(here.events.length, 3);
    assert.deepEqual(there.events.map(view), here.events.map(view));
    assert.deepEqual(there.bad, here.bad);
    assert.deepEqual(
      there.bad.map((b) => b.number),
      [3, 5],
    );
  });

  it('access_requests pushed (PascalCase), shared with polling: ids and shared keys from the worker, events reparsed', () => {
    const dataset = DATASETS.access_requests as Dataset;
    const record = (ray: string, createdAt: unknown) =>
      JSON.stringify({
        Action: 'login',
        Allowed: true,
        AppDomain: 'wiki.example.com',
        AppUUID: 'df7e2w5f-02b7-4d9d-af26-8d1988fca630',
        Connection: 'okta',
        Country: 'us',
        CreatedAt: createdAt,
        Email: 'alice@example.com',
        IPAddress: '198.51.100.7',
        RayID: ray,
        UserUID: '166befbb-00e3-5e20-bd6e-27245723949f',
      });
    const lines = numbered([
      record('r1', '2024-05-01T10:00:00.123456789Z'),
      record('r2', '').replace('"CreatedAt":""', '"CreatedAt":1714557600123456789'),
    ]);
    for (const shared of [false, true]) {
      const { here, there, posted } = roundTrip(dataset, lines, shared);
      assert.equal(here.events.length, 2);
      assert.ok(posted.ids, 'an identity of the event is computed where the event was parsed');
      assert.equal(posted.keys !== null, shared, 'keys travel only when they differ from the ids');
      assert.deepEqual(there.events.map(view), here.events.map(view));
      assert.ok(
        there.events.every((e) => e.line === undefined),
        'a mapped event is never written as its line',
      );
    }
  });
});
