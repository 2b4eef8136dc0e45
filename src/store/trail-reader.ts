import type { Consumer, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { AppError } from '../errors.ts';
import { type DomainEvent, decodeEvent } from '../events/index.ts';
import type { ResilientCalls } from './resilient-calls.ts';
import { toStoreError } from './store-errors.ts';

export interface TrailPosition {
  seq: number;
  subject: string;
  /** The stored time, ISO 8601. */
  at: string;
}

/** One stored message of a read: the event, or why it could not be read (a read never throws on bad data). */
export type TrailEntry = (TrailPosition & { event: DomainEvent }) | (TrailPosition & { error: string });

export interface ReadOptions {
  /** First stream sequence to read. Default: 1. */
  fromSeq?: number;
  /** At most this many entries. Default: no limit. */
  limit?: number;
}

/** Budget of a read's requests and of each fetch, waiting for a reconnect included. */
const REQUEST_TIMEOUT_MS = 5000;

/** Messages per fetch of a bounded read. */
const READ_BATCH = 1000;

/** Bounded reads of the stream: a graph's audit trail, or everything, up to the tail as of the read's start. */
export class TrailReader {
  readonly #calls: ResilientCalls;
  readonly #jsm: JetStreamManager;
  readonly #streamName: string;
  readonly #orderedConsumer: (filter: string, fromSeq: number) => Promise<Consumer>;

  constructor(opts: {
    calls: ResilientCalls;
    jsm: JetStreamManager;
    streamName: string;
    orderedConsumer: (filter: string, fromSeq: number) => Promise<Consumer>;
  }) {
    this.#calls = opts.calls;
    this.#jsm = opts.jsm;
    this.#streamName = opts.streamName;
    this.#orderedConsumer = opts.orderedConsumer;
  }

  /**
   * Reads `filter` from `fromSeq` up to the filter's last message as of the start of the read. The end is
   * a sequence, not a count: nats-server 2.9 miscounts num_pending (and so each message's `pending`) of a
   * filtered consumer that starts in the middle of the filtered messages, too many (the read waited for
   * messages that do not exist and failed) or too few (it ended early and dropped the last events).
   */
  async read(filter: string, opts: ReadOptions): Promise<TrailEntry[]> {
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    if (limit <= 0) return [];
    const fromSeq = Math.max(1, opts.fromSeq ?? 1);
    let tailSeq: number;
    let consumer: Consumer;
    try {
      // Found before the consumer exists, so whatever is appended from here on is not part of this read.
      tailSeq = await this.#lastSeqOf(filter);
      if (tailSeq < fromSeq) return [];
      consumer = await this.#orderedConsumer(filter, fromSeq);
    } catch (error) {
      throw toStoreError(error, `could not read ${filter}`);
    }
    const entries: TrailEntry[] = [];
    try {
      // Bounded fetches rather than consume(): a read must end (with an error) when the server is gone.
      while (entries.length < limit) {
        const batch = await consumer.fetch({
          max_messages: Math.min(limit - entries.length, READ_BATCH),
          expires: REQUEST_TIMEOUT_MS,
        });
        let received = 0;
        let atTail = false;
        // Leaving the loop early stops the fetch: it never waits for messages past the tail.
        for await (const m of batch) {
          received++;
          // The ordered consumer delivers in stream order without gaps, so the tail comes before anything newer.
          atTail = m.seq >= tailSeq;
          if (m.seq > tailSeq) break;
          entries.push(toTrailEntry(m));
          if (atTail || entries.length >= limit) break;
        }
        if (atTail) break;
        if (received === 0) {
          // The tail message exists and was not delivered yet: an empty fetch means the server did not answer.
          throw new AppError(
            'AM_ERR_STORE_UNAVAILABLE',
            `reading ${filter}: no messages within ${REQUEST_TIMEOUT_MS} ms`,
          );
        }
      }
      return entries;
    } catch (error) {
      throw toStoreError(error, `reading ${filter} failed`);
    } finally {
      consumer.delete().catch(() => {});
    }
  }

  /** The sequence of the last message on `filter` (wildcards allowed); 0 when it has none. */
  async #lastSeqOf(filter: string): Promise<number> {
    // STREAM.MSG.GET is answered by the stream leader; a direct get may come from a replica that lags behind
    // and would end the read before events already acknowledged to the caller.
    const last = await this.#calls.run(`last message of ${filter}`, REQUEST_TIMEOUT_MS, () =>
      this.#jsm.streams.getMessage(this.#streamName, { last_by_subj: filter }),
    );
    return last?.seq ?? 0;
  }
}

function toTrailEntry(m: JsMsg): TrailEntry {
  const at = m.time.toISOString();
  const decoded = decodeEvent(m.data);
  return decoded.ok
    ? { seq: m.seq, subject: m.subject, at, event: decoded.event }
    : { seq: m.seq, subject: m.subject, at, error: decoded.reason };
}
