import { AppError } from '../../errors.ts';
import type { AgentState, GraphState, RawStoredMessage, Subjects } from '../../events/index.ts';
import { DEFAULT_GRAPH_CACHE_BUDGET, GraphCache, type GraphCacheBudget } from '../graph-cache.ts';
import { connectPostgres, type PgConnection, type PgConnectOptions } from './pg-connection.ts';
import { foldBatch, graphIdsOf } from './pg-fold.ts';
import { migratePostgres } from './pg-migrations.ts';
import { loadAgents, loadGraphStates } from './pg-state-loader.ts';
import { writeBatch } from './pg-writer.ts';

/** A failed batch is tried again after these delays (the last repeats). */
const RETRY_MS = [250, 500, 1_000, 2_000, 5_000] as const;

export interface PostgresReadModelOptions {
  /** A `postgres://` URL. */
  url: string;
  subjects: Subjects;
  /** The stream projected; a database that holds another stream's read model is refused. */
  streamName: string;
  /** The checkpoint row's key. Default `main`. */
  projector?: string;
  /**
   * Events per transaction at most: a batch handed over that holds more is applied in part (the feed
   * hands the rest back). The feed may deliver thousands at once while a transaction is on its way.
   * Default 1000.
   */
  maxBatch?: number;
  /** Graph aggregates kept in memory, by graphs and by their tasks. Default 1,000 graphs, 20,000 tasks. */
  cacheBudget?: GraphCacheBudget;
  /** Delays between tries of a failed batch or connect (the last repeats). Default 250 ms … 5 s. */
  retryDelaysMs?: readonly number[];
  /** Told of each failed try (the batch, or the first connect, is tried again after `delayMs`). */
  onRetry?: (failure: PgRetry) => void;
  /** Told when a batch went through after failed tries. */
  onRecovered?: (recovered: { tries: number; fromSeq: number }) => void;
  connect?: PgConnectOptions;
}

export interface PgRetry {
  error: unknown;
  /** 1 for the first failure of this batch (or connect). */
  tries: number;
  delayMs: number;
  /** The first sequence of the batch; null for the first connect. */
  fromSeq: number | null;
}

/** Connection failures that waiting may cure (Postgres restarting or unreachable), as opposed to a wrong URL. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
  'ENOTFOUND',
]);
const TRANSIENT_SQLSTATE = /^(08|53|57P)/;

/**
 * The Postgres read model, a FeedSink: each batch is folded (the fold in src/events, as the SQLite
 * projections use it) and written in ONE transaction together with `am_checkpoint`, so a crash at any
 * point leaves the rows and the checkpoint of the same last event. The transaction starts by locking the
 * checkpoint row and drops what it already covers: a batch whose COMMIT went through but whose answer was
 * lost is not applied twice, nor is one another process applied. A failed batch (Postgres restarting,
 * unreachable, a query timing out) is tried again on a new connection after a backoff, until it goes
 * through or the model is closed: nothing is skipped. Aggregates are kept in memory between batches
 * (least recently used evicted) and read back from their rows when missing.
 */
export class PostgresReadModel {
  readonly #opts: PostgresReadModelOptions;
  readonly #projector: string;
  readonly #retryMs: readonly number[];
  readonly #maxBatch: number;
  readonly #cache: GraphCache;
  readonly #closed = new AbortController();
  #agents: Map<string, AgentState> | null = null;
  #connection: PgConnection | null = null;
  #applied: number;
  #inFlight: Promise<number> | null = null;

  private constructor(opts: PostgresReadModelOptions, connection: PgConnection, applied: number) {
    this.#opts = opts;
    this.#projector = opts.projector ?? 'main';
    this.#retryMs = opts.retryDelaysMs ?? RETRY_MS;
    this.#maxBatch = Math.max(1, opts.maxBatch ?? 1_000);
    this.#cache = new GraphCache(opts.cacheBudget ?? DEFAULT_GRAPH_CACHE_BUDGET, () => null);
    this.#connection = connection;
    this.#applied = applied;
  }

  /**
   * Connects (waiting out an unreachable or restarting Postgres, reported to onRetry; a refused login or
   * a missing database fails at once), migrates, and reads the checkpoint. Rejects when `signal` aborts.
   */
  static async open(opts: PostgresReadModelOptions, signal?: AbortSignal): Promise<PostgresReadModel> {
    const retryMs = opts.retryDelaysMs ?? RETRY_MS;
    const projector = opts.projector ?? 'main';
    for (let tries = 1; ; tries++) {
      let connection: PgConnection | null = null;
      try {
        connection = await connectPostgres(opts.url, opts.connect);
        await migratePostgres(connection.client);
        const applied = await readCheckpoint(connection, projector, opts.streamName);
        return new PostgresReadModel(opts, connection, applied);
      } catch (error) {
        await connection?.close();
        if (!isTransient(error) || signal?.aborted) throw error;
        const delayMs = retryMs[Math.min(tries - 1, retryMs.length - 1)] ?? 5_000;
        opts.onRetry?.({ error, tries, delayMs, fromSeq: null });
        await pause(delayMs, signal);
        if (signal?.aborted) throw error;
      }
    }
  }

  /** The last stream sequence committed to Postgres (with its checkpoint). */
  get appliedSeq(): number {
    return this.#applied;
  }

  /**
   * The FeedSink: applies `messages` (in stream order; the first `maxBatch` of them) in one transaction
   * with the checkpoint and resolves with how many it applied; a failure is tried again until it goes through. Resolves 0 once closed (the feed
   * delivers them again to the next process). Rejects only when the checkpoint went back under it (the
   * database was restored or rewritten): this process's position is then wrong, and a restart resumes
   * from the database's.
   */
  apply = (messages: readonly RawStoredMessage[]): Promise<number> => {
    const batch = messages.length > this.#maxBatch ? messages.slice(0, this.#maxBatch) : messages;
    const work = this.#applyWithRetries(batch);
    this.#inFlight = work;
    return work.finally(() => {
      if (this.#inFlight === work) this.#inFlight = null;
    });
  };

  /**
   * Stops: no new try starts, a batch on its way may finish for up to `graceMs`, then the connection
   * ends (Postgres rolls back a transaction still open). Idempotent.
   */
  async close(graceMs = 2_000): Promise<void> {
    this.#closed.abort();
    const inFlight = this.#inFlight;
    if (inFlight !== null) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        inFlight.catch(() => 0),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const connection = this.#connection;
    this.#connection = null;
    await connection?.close();
  }

  async #applyWithRetries(messages: readonly RawStoredMessage[]): Promise<number> {
    const fromSeq = messages[0]?.seq ?? null;
    for (let tries = 1; ; tries++) {
      if (this.#closed.signal.aborted) return 0;
      try {
        const count = await this.#applyOnce(messages);
        if (tries > 1 && fromSeq !== null) this.#opts.onRecovered?.({ tries, fromSeq });
        return count;
      } catch (error) {
        // What the fold changed in memory was not committed; the connection may be mid-transaction.
        this.#cache.clear();
        this.#agents = null;
        const connection = this.#connection;
        this.#connection = null;
        await connection?.close();
        if (error instanceof CheckpointWentBack) throw error;
        if (this.#closed.signal.aborted) return 0;
        const delayMs = this.#retryMs[Math.min(tries - 1, this.#retryMs.length - 1)] ?? 5_000;
        this.#opts.onRetry?.({ error, tries, delayMs, fromSeq });
        await pause(delayMs, this.#closed.signal);
      }
    }
  }

  async #applyOnce(messages: readonly RawStoredMessage[]): Promise<number> {
    if (this.#connection === null || this.#connection.broken) {
      await this.#connection?.close();
      this.#connection = null;
      this.#connection = await connectPostgres(this.#opts.url, this.#opts.connect);
    }
    const db = this.#connection.client;
    await db.query('BEGIN');
    const checkpoint = await db.query<{ last_seq: number }>(
      'SELECT last_seq FROM am_checkpoint WHERE projector = $1 FOR UPDATE',
      [this.#projector],
    );
    const stored = checkpoint.rows[0]?.last_seq ?? 0;
    if (stored < this.#applied) throw new CheckpointWentBack(this.#applied, stored);
    if (stored > this.#applied) {
      // Another process applied past this one (or an answered COMMIT was lost): its rows are the truth.
      this.#cache.clear();
      this.#agents = null;
      this.#applied = stored;
    }
    const pending = messages.filter((message) => message.seq > stored);
    const last = pending[pending.length - 1];
    if (last === undefined) {
      await db.query('COMMIT');
      return messages.length;
    }
    this.#agents ??= await loadAgents(db);
    const graphs = await this.#graphsOf(db, graphIdsOf(pending, this.#opts.subjects));
    const folded = foldBatch(pending, this.#opts.subjects, { graphs, agents: this.#agents });
    await writeBatch(db, folded);
    await db.query('UPDATE am_checkpoint SET last_seq = $2, updated_at = now() WHERE projector = $1', [
      this.#projector,
      last.seq,
    ]);
    await db.query('COMMIT');
    this.#applied = last.seq;
    for (const state of graphs.values()) if (state !== null) this.#cache.set(state);
    this.#cache.trim();
    return messages.length;
  }

  /** The batch's graphs: from memory, else from their rows (null: not in the read model yet). */
  async #graphsOf(
    db: PgConnection['client'],
    ids: ReadonlySet<string>,
  ): Promise<Map<string, GraphState | null>> {
    const graphs = new Map<string, GraphState | null>();
    const missing: string[] = [];
    for (const id of ids) {
      const cached = this.#cache.get(id);
      if (cached === null) missing.push(id);
      else graphs.set(id, cached);
    }
    const loaded = await loadGraphStates(db, missing);
    for (const id of missing) graphs.set(id, loaded.get(id) ?? null);
    return graphs;
  }
}

/** The checkpoint went back under a running model: the database was restored or rewritten. */
export class CheckpointWentBack extends AppError {
  constructor(applied: number, stored: number) {
    super(
      'AM_ERR_CONFIG_INVALID',
      `the Postgres checkpoint went back from ${applied} to ${stored} (was the database restored?); start again to resume from ${stored}`,
    );
  }
}

async function readCheckpoint(connection: PgConnection, projector: string, stream: string): Promise<number> {
  const db = connection.client;
  await db.query(
    'INSERT INTO am_checkpoint (projector, stream, last_seq) VALUES ($1, $2, 0) ON CONFLICT (projector) DO NOTHING',
    [projector, stream],
  );
  const row = (
    await db.query<{ stream: string; last_seq: number }>(
      'SELECT stream, last_seq FROM am_checkpoint WHERE projector = $1',
      [projector],
    )
  ).rows[0];
  if (row === undefined) throw new Error('the checkpoint row is missing after its insert');
  if (row.stream !== stream) {
    throw new AppError(
      'AM_ERR_CONFIG_INVALID',
      `this database holds the read model of stream ${row.stream}, not ${stream}: use another database`,
    );
  }
  return row.last_seq;
}

function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') {
    // node-postgres reports a connect timeout and a connection ended by the server with messages only.
    const message = error instanceof Error ? error.message : '';
    return /timeout|terminated|Connection ended/i.test(message);
  }
  return TRANSIENT_CODES.has(code) || TRANSIENT_SQLSTATE.test(code);
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
