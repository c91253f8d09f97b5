/**
 * A prepared slice as a reader worker posts it: columns — the lines, typed arrays for the times —
 * which the structured clone copies far cheaper than 1,000 event objects. (The lines as one
 * joined string cost more: a string that large is allocated and freed outside the young
 * generation, one mmap and munmap per slice on each side; measured +1.1 s system time per
 * million events.) The receiving side parses an event's JSON again only when an output reads the
 * event (CEF, ECS, syslog headers); plain JSON writes the line as it came and never does. An
 * identity the dataset reads from the line alone is left to the receiving side, which has time
 * to spare while the worker parses.
 */
import type { Dataset } from '../datasets/dataset.js';
import type { EventRecord } from '../format/record.js';
import type { Timestamp } from '../format/time.js';
import type { BadLine, PreparedSlice, PushedEvent } from './pushed-record.js';

export interface SliceMessage {
  /** The events' lines as received (what each event is parsed from again). */
  texts: string[];
  /** 1: the event is the line's object unchanged (written as the line in plain JSON). */
  verbatim: Uint8Array;
  /** Null: the dataset's identity is read from the line (`pushedIdentity`), by the receiving side. */
  ids: string[] | null;
  /** Only where they differ from the ids (endpoints shared with polling). */
  keys: string[] | null;
  epochMs: Float64Array;
  subMsNanos: Float64Array;
  fractionDigits: Uint8Array;
  /** Only for datasets whose time is read from text. */
  timeTexts: (string | undefined)[] | null;
  bad: BadLine[];
}

/** `slice` as prepared with `identify` false where the dataset reads its identity from the line. */
export function encodeSlice(slice: PreparedSlice, dataset: Dataset): SliceMessage {
  const { events } = slice;
  const n = events.length;
  const fromLine = dataset.pushedIdentity !== undefined;
  const message: SliceMessage = {
    texts: events.map((e) => e.text),
    verbatim: new Uint8Array(n),
    ids: fromLine ? null : new Array<string>(n),
    keys: events.some((e) => e.key !== e.id) ? new Array<string>(n) : null,
    epochMs: new Float64Array(n),
    subMsNanos: new Float64Array(n),
    fractionDigits: new Uint8Array(n),
    timeTexts: null,
    bad: slice.bad,
  };
  for (let i = 0; i < n; i++) {
    const e = events[i] as PushedEvent;
    message.verbatim[i] = e.line === undefined ? 0 : 1;
    if (message.ids) message.ids[i] = e.id;
    if (message.keys) message.keys[i] = e.key;
    message.epochMs[i] = e.ts.epochMs;
    message.subMsNanos[i] = e.ts.subMsNanos;
    message.fractionDigits[i] = e.ts.fractionDigits;
    if (e.timeText !== undefined) (message.timeTexts ??= new Array<string | undefined>(n))[i] = e.timeText;
  }
  return message;
}

/** A pushed event whose object is parsed from its line when first read. */
class ReparsedEvent implements PushedEvent {
  private parsed: EventRecord | undefined;
  readonly line: string | undefined;

  constructor(
    private readonly dataset: Dataset,
    readonly text: string,
    verbatim: boolean,
    readonly id: string,
    readonly key: string,
    readonly ts: Timestamp,
    readonly timeText: string | undefined,
  ) {
    this.line = verbatim ? text.trim() : undefined;
  }

  get event(): EventRecord {
    if (this.parsed === undefined) {
      // The worker parsed this very text into an object, so it parses again.
      const value = JSON.parse(this.text) as EventRecord;
      this.parsed = this.dataset.fromPush?.(value) ?? value;
    }
    return this.parsed;
  }
}

export function decodeSlice(message: SliceMessage, dataset: Dataset): PreparedSlice {
  const n = message.texts.length;
  const events = new Array<PushedEvent>(n);
  for (let i = 0; i < n; i++) {
    const text = message.texts[i] as string;
    const id = message.ids?.[i] ?? dataset.pushedIdentity?.(text) ?? '';
    events[i] = new ReparsedEvent(
      dataset,
      text,
      message.verbatim[i] === 1,
      id,
      message.keys?.[i] ?? id,
      {
        epochMs: message.epochMs[i] as number,
        subMsNanos: message.subMsNanos[i] as number,
        fractionDigits: message.fractionDigits[i] as number,
      },
      message.timeTexts?.[i],
    );
  }
  return { events, bad: message.bad };
}
