import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
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
import { NatsRequestMux } from '../nats/request-mux.ts';
import { TurnEnd } from '../nats/turn-end.ts';
import { LIMITS } from '../protocol/limits.ts';
import { isAborted, sleep, untilAborted } from './abortable.ts';
import { ConnectionWatch } from './connection-watch.ts';
import { ensureStream } from './ensure-stream.ts';
import { OwnAppends } from './own-appends.ts';
import { type AppendResult, parsePubAck, wrongLastSequence } from './pub-ack.ts';
import { ResilientCalls } from './resilient-calls.ts';
import { isJetStreamPaused, toStoreError } from './store-errors.ts';
import type { StoreSettings } from './stream-settings.ts';
import { type ReadOptions, type TrailEntry, TrailReader } from './trail-reader.ts';

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

export type { AppendResult } from './pub-ack.ts';

export type { ReadOptions, TrailEntry, TrailPosition } from './trail-reader.ts';

export interface ConsumeOptions {
  /** Ends the feed (the iterator returns). */
  signal?: AbortSignal;
  /** One subject filter (2.9 has no multiple filters). Default: `<prefix>.>`. */
  filter?: string;
  /** Messages requested per pull; larger = faster replays, more buffered memory. Default: 2000. */
  batch?: number;
  /**
   * Delivered messages the reader has not taken yet at which the consumer is paused (stopped, and made
   * again from the next sequence once the reader has caught up). Default: 8 × batch.
   */
  highWater?: number;
  /** Told each time the consumer is paused for a slow reader (metrics, tests). */
  onPause?: (buffered: number) => void;
}

/** Budget of reads and consumer creation, waiting for a reconnect included. */
const REQUEST_TIMEOUT_MS = 5000;

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
  readonly #calls: ResilientCalls;
  readonly #trails: TrailReader;
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
    this.#calls = new ResilientCalls(this.#watch, this.#requests);
    this.#trails = new TrailReader({
      calls: this.#calls,
      jsm,
      streamName: settings.streamName,
      orderedConsumer: (filter, fromSeq) => this.#orderedConsumer(filter, fromSeq),
    });
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
      if (isJetStreamPaused(error)) {
        throw new AppError(
          'AM_ERR_STORE_UNAVAILABLE',
          `could not ensure stream ${settings.streamName}: JetStream is not enabled on this NATS server — start nats-server with -js (and a store directory, -sd DIR)`,
          { cause: error },
        );
      }
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
      const reply = await this.#calls.request(req.subject, data, h, req.timeoutMs ?? 5000);
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
      const info = await this.#calls.run('stream info', REQUEST_TIMEOUT_MS, () =>
        this.#jsm.streams.info(this.settings.streamName),
      );
      return info.state.last_seq;
    } catch (error) {
      throw toStoreError(error, 'stream info failed');
    }
  }

  /** One graph's audit trail in stream order (every subject of the graph), up to the current tail. */
  readTrail(graphId: string, opts: ReadOptions = {}): Promise<TrailEntry[]> {
    return this.#trails.read(this.subjects.graphTrail(graphId), opts);
  }

  /** The whole stream (or one filter subject) in order, up to the current tail. */
  readAll(opts: ReadOptions & { filter?: string } = {}): Promise<TrailEntry[]> {
    return this.#trails.read(opts.filter ?? this.subjects.all(), opts);
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
    const highWater = Math.max(batch, opts.highWater ?? batch * 8);
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
      /**
       * Set when the reader fell `highWater` behind: nats.js pulls again as soon as its callback returns,
       * whatever the reader does with the messages, so a fold slower than the feed (a replay into
       * Postgres, a big rebuild) would hold most of the stream in memory. Stopping the consumer and
       * making a new one from the next sequence once the reader caught up costs a consumer creation per
       * `highWater` messages.
       */
      let paused = false;
      let messages: ConsumerMessages | undefined;
      const pauseIfBehind = () => {
        if (paused || delivered.length < highWater) return;
        paused = true;
        opts.onPause?.(delivered.length);
        void messages?.stop();
      };
      let wake: (() => void) | null = null;
      const wakeReader = () => {
        const resume = wake;
        wake = null;
        resume?.();
      };
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
            pauseIfBehind();
            wakeReader();
          },
        });
        // The first deliveries may have reached the callback before `messages` was set.
        if (paused) void messages.stop();
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
      const running: ConsumerMessages = messages;
      void running.closed().then(end, end);
      const stop = () => {
        void running.stop();
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
        running.stop();
        consumer.delete().catch(() => {});
      }
      if (this.#nc.isClosed()) return;
      // A pause is not a failure: the next consumer starts at once.
      if (!isAborted(signal) && !paused) await sleep(this.#backoff(failures++), signal);
    }
  }

  #backoff(failures: number): number {
    return RECREATE_BACKOFF_MS[Math.min(failures, RECREATE_BACKOFF_MS.length - 1)] ?? 5000;
  }

  /** The last event of one subject (direct get), or null when the subject has none. */
  async getLastForSubject(subject: string): Promise<{ seq: number; event: DomainEvent } | null> {
    let stored: Awaited<ReturnType<JetStreamManager['direct']['getMessage']>>;
    try {
      stored = await this.#calls.run(`direct get of ${subject}`, REQUEST_TIMEOUT_MS, () =>
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
    return this.#calls.run(`creating a consumer on ${filter}`, REQUEST_TIMEOUT_MS, () =>
      this.#js.consumers.get(this.settings.streamName, {
        filter_subjects: filter,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, fromSeq),
      }),
    );
  }
}
