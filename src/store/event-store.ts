import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { Msg, MsgHdrs } from '@nats-io/nats-core';
import type { NatsConnection } from '@nats-io/transport-node';
import { AppError, StreamSequenceConflict } from '../errors.ts';
import {
  type DomainEvent,
  decodeEvent,
  encodeEvent,
  type RawStoredMessage,
  Subjects,
  validateEvent,
} from '../events/index.ts';
import { encodeHeaders } from '../nats/encoded-headers.ts';
import { NatsRequestMux, NatsRequestReconnectedError } from '../nats/request-mux.ts';
import { TurnEnd } from '../nats/turn-end.ts';
import { LIMITS } from '../protocol/limits.ts';
import { ConnectionWatch } from './connection-watch.ts';
import { ensureStream } from './ensure-stream.ts';
import { OwnAppends } from './own-appends.ts';
import { isJetStreamPaused, JetStreamPublishError, toStoreError } from './store-errors.ts';
import type { StoreSettings } from './stream-settings.ts';

export type { RawStoredMessage } from '../events/index.ts';

export interface AppendRequest {
  /** A subject of this store (built with `store.subjects`). */
  subject: string;
  event: DomainEvent;
  /** The subject's last sequence the decision was made on; 0 = "no events yet"; null = no check. */
  expectedLastSubjectSeq: number | null;
  /** Identifies one request of one actor (DESIGN.md "msgIDs"). */
  msgId: string;
  /** How long to wait for the ack. Default: 5000 ms. */
  timeoutMs?: number;
}

export interface AppendResult {
  seq: number;
  /** The msgID was seen within the duplicate window: nothing was appended, `seq` is the first append's. */
  duplicate: boolean;
}

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

export interface ConsumeOptions {
  /** Ends the feed (the iterator returns). */
  signal?: AbortSignal;
  /** One subject filter (2.9 has no multiple filters). Default: `<prefix>.>`. */
  filter?: string;
  /** Messages requested per pull; larger = faster replays, more buffered memory. Default: 2000. */
  batch?: number;
}

/** Budget of reads and consumer creation, waiting for a reconnect included. */
const REQUEST_TIMEOUT_MS = 5000;
/** The first wait before asking JetStream again after it answered "not enabled"; doubled each time. */
const JETSTREAM_PAUSE_RETRY_MS = 20;

/** Messages per fetch of a bounded read. */
const READ_BATCH = 1000;

/** A consumer that was working and then failed is created again after this delay (grows to 5 s). */
const RECREATE_BACKOFF_MS = [250, 500, 1000, 2000, 5000] as const;

/** The JetStream adapter: the only way AM writes (append) and the raw feed projectors read. */
export class EventStore {
  readonly subjects: Subjects;
  readonly settings: Readonly<StoreSettings>;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #watch: ConnectionWatch;
  readonly #requests: NatsRequestMux;
  readonly #ownAppends = new OwnAppends();
  /** The highest sequence an append of this store was acknowledged with. */
  #ackedSeq = 0;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, settings: StoreSettings, turnEnd: TurnEnd) {
    this.#nc = nc;
    this.#js = jetstream(nc);
    this.#requests = new NatsRequestMux(nc, { turnEnd });
    this.#jsm = jsm;
    this.settings = Object.freeze({ ...settings });
    this.subjects = new Subjects(settings.subjectPrefix);
    this.#watch = new ConnectionWatch(nc);
    this.#watch.onReconnect(() => this.#requests.reconnected());
  }

  /** The highest sequence an append of this store was acknowledged with (a feed's watchdog knows the stream reaches it). */
  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  /** Whether the NATS connection is up right now (for readiness probes). */
  get connected(): boolean {
    return !this.#nc.isClosed() && this.#watch.connected;
  }

  /**
   * Ensures the stream (create or update) and returns a store over it. The caller owns `nc`. `turnEnd`:
   * the scheduler its appends leave through, shared with the rest of the node (default: its own).
   */
  static async open(
    nc: NatsConnection,
    settings: StoreSettings,
    opts: { turnEnd?: TurnEnd } = {},
  ): Promise<EventStore> {
    try {
      await ensureStream(nc, settings);
      return new EventStore(nc, await jetstreamManager(nc), settings, opts.turnEnd ?? new TurnEnd());
    } catch (error) {
      throw toStoreError(error, `could not ensure stream ${settings.streamName}`);
    }
  }

  /**
   * Appends one event with its msgID and, unless null, the expected last sequence of its subject.
   * Concurrent calls pipeline on the connection. Throws StreamSequenceConflict (stale expectation),
   * AppError AM_ERR_PAYLOAD_TOO_LARGE (nothing published) or AM_ERR_STORE_UNAVAILABLE.
   */
  async append(req: AppendRequest): Promise<AppendResult> {
    if (!req.subject.startsWith(`${this.settings.subjectPrefix}.`)) {
      // A subject outside the stream would come back as "no responders", which reads like an outage.
      throw new Error(`subject ${req.subject} is not under ${this.settings.subjectPrefix}.>`);
    }
    const data = encodeEvent(req.event);
    if (data.byteLength > LIMITS.maxEventBytes) {
      throw new AppError(
        'AM_ERR_PAYLOAD_TOO_LARGE',
        `${req.event.type} encodes to ${data.byteLength} bytes; the cap is ${LIMITS.maxEventBytes}`,
        { details: { bytes: data.byteLength, maxBytes: LIMITS.maxEventBytes, type: req.event.type } },
      );
    }
    const h = encodeHeaders(
      req.expectedLastSubjectSeq === null
        ? [['Nats-Msg-Id', req.msgId]]
        : [
            ['Nats-Msg-Id', req.msgId],
            ['Nats-Expected-Last-Subject-Sequence', String(req.expectedLastSubjectSeq)],
          ],
    );
    // Checked before it is published, not only when read back: an event the schema refuses never
    // reaches the stream (where every projector would skip it), and the check serves this process's
    // own projector when the event is delivered (OwnAppends).
    const checked = validateEvent(req.event, req.event.type);
    if (!checked.ok) throw new AppError('AM_ERR_INTERNAL', `refusing to append an ${checked.reason}`);
    const forget = this.#ownAppends.remember(req.subject, data, checked.event);
    try {
      // Resending after a reconnect is safe: the msgID stores it at most once, and if the first send was
      // stored the answer is `duplicate` with its sequence.
      const reply = await this.#resilientRequest(req.subject, data, h, req.timeoutMs ?? 5000);
      const ack = parsePubAck(reply.data);
      if (ack.seq > this.#ackedSeq) this.#ackedSeq = ack.seq;
      // A duplicate stored nothing new: no delivery will take the entry.
      if (ack.duplicate) forget();
      return ack;
    } catch (error) {
      forget();
      const actual = wrongLastSequence(error);
      if (actual !== null && req.expectedLastSubjectSeq !== null) {
        throw new StreamSequenceConflict(req.subject, req.expectedLastSubjectSeq, actual);
      }
      throw toStoreError(error, `append to ${req.subject} failed`);
    }
  }

  /** The stream's last sequence (0 when empty). */
  async lastSeq(): Promise<number> {
    try {
      const info = await this.#resilient('stream info', REQUEST_TIMEOUT_MS, () =>
        this.#jsm.streams.info(this.settings.streamName),
      );
      return info.state.last_seq;
    } catch (error) {
      throw toStoreError(error, 'stream info failed');
    }
  }

  /** One graph's audit trail in stream order (every subject of the graph), up to the current tail. */
  readTrail(graphId: string, opts: ReadOptions = {}): Promise<TrailEntry[]> {
    return this.#readToTail(this.subjects.graphTrail(graphId), opts);
  }

  /** The whole stream (or one filter subject) in order, up to the current tail. */
  readAll(opts: ReadOptions & { filter?: string } = {}): Promise<TrailEntry[]> {
    return this.#readToTail(opts.filter ?? this.subjects.all(), opts);
  }

  /**
   * A live feed of raw messages from `fromSeq` (<= 1: the start): it keeps going past the tail, survives
   * reconnects and server restarts (the ordered consumer is recreated after the last delivered sequence)
   * and ends when `signal` aborts. Failing to create the first consumer throws; later failures are retried.
   */
  async *consume(fromSeq: number, opts: ConsumeOptions = {}): AsyncIterable<RawStoredMessage> {
    for await (const batch of this.consumeBatches(fromSeq, opts)) yield* batch;
  }

  /**
   * `consume`, in arrays: each holds the messages delivered since the last one was taken (usually one
   * socket read's worth), so a reader pays one asynchronous step per batch instead of per message.
   */
  async *consumeBatches(fromSeq: number, opts: ConsumeOptions = {}): AsyncIterable<RawStoredMessage[]> {
    const { signal } = opts;
    const filter = opts.filter ?? this.subjects.all();
    const batch = opts.batch ?? 2000;
    let nextSeq = Math.max(1, Math.floor(fromSeq));
    let started = false;
    let failures = 0;
    while (!isAborted(signal)) {
      let consumer: Consumer;
      try {
        // Waiting for a connection to create it may take seconds: a stop must not wait for that.
        consumer = await untilAborted(this.#orderedConsumer(filter, nextSeq), signal);
      } catch (error) {
        if (isAborted(signal)) return;
        if (!started) throw toStoreError(error, `could not start a consumer on ${filter}`);
        if (this.#nc.isClosed()) return;
        await sleep(this.#backoff(failures++), signal);
        continue;
      }
      started = true;
      let delivered: RawStoredMessage[] = [];
      let wake: (() => void) | null = null;
      const wakeReader = () => {
        const resume = wake;
        wake = null;
        resume?.();
      };
      let messages: ConsumerMessages;
      try {
        // Refill at half the batch so the next pull is in flight while the first half is processed.
        // The callback form skips nats.js's per-message async iterator.
        messages = await consumer.consume({
          max_messages: batch,
          threshold_messages: Math.floor(batch / 2),
          callback: (m) => {
            const { subject, data } = m;
            // The ordered consumer has already parsed (and kept) the delivery info: `seq` and `info` are free.
            const message: RawStoredMessage = { seq: m.seq, subject, data, pending: m.info.pending };
            const checked = this.#ownAppends.take(subject, data);
            if (checked !== undefined) message.checked = checked;
            delivered.push(message);
            wakeReader();
          },
        });
      } catch {
        consumer.delete().catch(() => {});
        await sleep(this.#backoff(failures++), signal);
        continue;
      }
      let ended = false;
      const end = () => {
        ended = true;
        wakeReader();
      };
      // Settles when the consumer gives up (e.g. it could not be recreated for a long time) or stops.
      void messages.closed().then(end, end);
      const stop = () => {
        void messages.stop();
        wakeReader();
      };
      signal?.addEventListener('abort', stop, { once: true });
      // An abort while the consumer was being created fired no event.
      if (isAborted(signal)) stop();
      try {
        while (!isAborted(signal)) {
          if (delivered.length === 0) {
            if (ended) break;
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            continue;
          }
          const taken = delivered;
          delivered = [];
          failures = 0;
          nextSeq = (taken[taken.length - 1]?.seq ?? nextSeq - 1) + 1;
          yield taken;
        }
      } finally {
        signal?.removeEventListener('abort', stop);
        messages.stop();
        consumer.delete().catch(() => {});
      }
      if (this.#nc.isClosed()) return;
      if (!isAborted(signal)) await sleep(this.#backoff(failures++), signal);
    }
  }

  #backoff(failures: number): number {
    return RECREATE_BACKOFF_MS[Math.min(failures, RECREATE_BACKOFF_MS.length - 1)] ?? 5000;
  }

  /** The last event of one subject (direct get), or null when the subject has none. */
  async getLastForSubject(subject: string): Promise<{ seq: number; event: DomainEvent } | null> {
    let stored: Awaited<ReturnType<JetStreamManager['direct']['getMessage']>>;
    try {
      stored = await this.#resilient(`direct get of ${subject}`, REQUEST_TIMEOUT_MS, () =>
        this.#jsm.direct.getMessage(this.settings.streamName, { last_by_subj: subject }),
      );
    } catch (error) {
      throw toStoreError(error, `direct get of ${subject} failed`);
    }
    if (stored === null) return null;
    const decoded = decodeEvent(stored.data);
    if (!decoded.ok) {
      throw new AppError(
        'AM_ERR_INTERNAL',
        `seq ${stored.seq} on ${subject} is unreadable: ${decoded.reason}`,
      );
    }
    return { seq: stored.seq, event: decoded.event };
  }

  /** Stops following the connection's status; the connection itself belongs to the caller. */
  async close(): Promise<void> {
    this.#watch.stop();
    this.#requests.close();
  }

  #orderedConsumer(filter: string, fromSeq: number): Promise<Consumer> {
    return this.#resilient(`creating a consumer on ${filter}`, REQUEST_TIMEOUT_MS, () =>
      this.#js.consumers.get(this.settings.streamName, {
        filter_subjects: filter,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, fromSeq),
      }),
    );
  }

  /**
   * A request on the store's own mux, sent once connected and sent again after a reconnect: the mux
   * fails what is open at a reconnect (NatsRequestReconnectedError), so unlike #resilient this needs no
   * listener, promise or closure of its own per request — it is every append's path.
   */
  async #resilientRequest(
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs,
    timeoutMs: number,
  ): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.#watch.connected && !(await this.#watch.waitConnected(deadline - Date.now()))) {
        throw notConnectedError(`append to ${subject}`, timeoutMs);
      }
      try {
        return await this.#requests.request(subject, data, {
          timeoutMs: Math.max(1, deadline - Date.now()),
          headers,
        });
      } catch (error) {
        if (!(error instanceof NatsRequestReconnectedError)) throw error;
        if (Date.now() >= deadline) throw connectionLostError(`append to ${subject}`, timeoutMs);
      }
    }
  }

  /**
   * Runs an idempotent request: waits (within `timeoutMs`) for the connection, and runs it again when a
   * reconnect overtakes it (ConnectionWatch says why). Rejects with the request's own error, or with
   * AM_ERR_STORE_UNAVAILABLE when the connection is not back in time.
   */
  async #resilient<T>(what: string, timeoutMs: number, run: (remainingMs: number) => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let pauses = 0;
    for (;;) {
      // Connected is the usual case: skip the wait's promise and its turn of the microtask queue.
      if (!this.#watch.connected && !(await this.#watch.waitConnected(deadline - Date.now()))) {
        throw notConnectedError(what, timeoutMs);
      }
      const outcome = await new Promise<{ ok: true; value: T } | { ok: false; error: unknown } | null>(
        (resolve) => {
          const cancel = this.#watch.onNextReconnect(() => resolve(null));
          run(Math.max(1, deadline - Date.now())).then(
            (value) => {
              cancel();
              resolve({ ok: true, value });
            },
            (error: unknown) => {
              cancel();
              resolve({ ok: false, error });
            },
          );
        },
      );
      if (outcome?.ok === true) return outcome.value;
      if (outcome !== null) {
        if (!isJetStreamPaused(outcome.error)) throw outcome.error;
        // A config reload (an agent added or revoked) briefly takes JetStream away from the account on
        // nats-server 2.9, and a cluster does between stream leaders: ask again shortly.
        const pauseMs = Math.min(JETSTREAM_PAUSE_RETRY_MS * 2 ** pauses++, deadline - Date.now());
        if (pauseMs <= 0) throw outcome.error;
        await sleep(pauseMs, undefined);
        continue;
      }
      if (Date.now() >= deadline) throw connectionLostError(what, timeoutMs);
    }
  }

  /**
   * Reads `filter` from `fromSeq` up to the filter's last message as of the start of the read. The end is
   * a sequence, not a count: nats-server 2.9 miscounts num_pending (and so each message's `pending`) of a
   * filtered consumer that starts in the middle of the filtered messages, too many (the read waited for
   * messages that do not exist and failed) or too few (it ended early and dropped the last events).
   */
  async #readToTail(filter: string, opts: ReadOptions): Promise<TrailEntry[]> {
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
    const last = await this.#resilient(`last message of ${filter}`, REQUEST_TIMEOUT_MS, () =>
      this.#jsm.streams.getMessage(this.settings.streamName, { last_by_subj: filter }),
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

const decoder = new TextDecoder();

/** A publish ack: `{ stream, seq, duplicate? }`, or `{ error: { code, err_code, description } }`. */
function parsePubAck(data: Uint8Array): AppendResult {
  let ack: { stream?: unknown; seq?: unknown; duplicate?: unknown; error?: unknown };
  try {
    ack = JSON.parse(decoder.decode(data)) as typeof ack;
  } catch {
    throw new JetStreamPublishError(0, 0, 'the publish ack is not JSON');
  }
  if (typeof ack.error === 'object' && ack.error !== null) {
    const { code, err_code: errCode, description } = ack.error as Record<string, unknown>;
    throw new JetStreamPublishError(
      typeof code === 'number' ? code : 0,
      typeof errCode === 'number' ? errCode : 0,
      typeof description === 'string' ? description : 'JetStream refused the publish',
    );
  }
  if (typeof ack.stream !== 'string' || ack.stream === '' || typeof ack.seq !== 'number') {
    throw new JetStreamPublishError(0, 0, 'invalid publish ack');
  }
  return { seq: ack.seq, duplicate: ack.duplicate === true };
}

/** JetStream 10071 "wrong last sequence: N" → N; null for any other error. */
function wrongLastSequence(error: unknown): number | null {
  const isWrongLastSeq =
    (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) ||
    (error instanceof JetStreamPublishError && error.errCode === JetStreamApiCodes.StreamWrongLastSequence);
  if (!isWrongLastSeq) return null;
  const match = /wrong last sequence: (\d+)/.exec((error as Error).message);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** `promise`, or a rejection as soon as `signal` aborts (the promise itself runs on, unobserved). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

// A function, not `signal?.aborted`, so the compiler does not narrow a value that changes under it.
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function notConnectedError(what: string, timeoutMs: number): AppError {
  return new AppError('AM_ERR_STORE_UNAVAILABLE', `${what}: not connected to NATS within ${timeoutMs} ms`, {
    details: { reason: 'disconnected', timeoutMs },
  });
}

function connectionLostError(what: string, timeoutMs: number): AppError {
  return new AppError('AM_ERR_STORE_UNAVAILABLE', `${what}: the connection was lost`, {
    details: { reason: 'reconnected', timeoutMs },
  });
}
