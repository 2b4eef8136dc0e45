import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { type Config, loadConfig, natsServers } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { rebuildReadModel } from '../../projections/index.ts';
import type { PostgresProjector } from '../../projections/postgres/index.ts';
import { closeNats, connectNats } from '../../store/connect.ts';
import { type EmbeddedNats, startEmbeddedNats } from '../../store/embedded-nats.ts';
import { EventStore } from '../../store/event-store.ts';
import { lockReadModelFile } from '../../store/home-lock.ts';
import { onStdoutClosed, stopWithin, untilSignal } from '../process-signals.ts';
import { chooseReadModelFile } from '../read-model-file.ts';

export interface RebuildOptions {
  db?: string;
}

export interface ServeOptions {
  postgres?: string;
  batch?: number;
}

/** What `am projections rebuild` does (its options are in projections.ts; this file is loaded only when it runs). */
export async function runProjectionsRebuild(opts: RebuildOptions): Promise<void> {
  const config = loadConfig();
  // Chosen (or refused) before NATS is touched.
  const { path: dbPath, why } = chooseReadModelFile(config, opts.db);
  // A rebuild half done is worse than one nobody watches (`am projections rebuild | head -1`): finish it.
  onStdoutClosed(() => {});
  // Refused while `am up` runs on this AM_HOME: it holds the lock that the embedded NATS takes.
  const stream = await openStream(config, 'am-rebuild', { joinRunningEmbedded: false });
  try {
    const { store } = stream;
    // Refused while a server uses the file: the rebuild empties the tables it reads and writes.
    const fileLock = lockReadModelFile(dbPath);
    process.stdout.write(`rebuilding ${dbPath} (${why}) from ${stream.describe}\n`);
    const progress = progressLine({ everyMs: 100, drawLast: true });
    try {
      const { events, ms } = await rebuildReadModel(store, store.subjects, dbPath, {
        onProgress: progress.update,
      });
      progress.end();
      process.stdout.write(
        `rebuilt ${dbPath}: ${events} events in ${(ms / 1000).toFixed(2)} s (${Math.round(events / (ms / 1000))} events/s)\n`,
      );
    } finally {
      fileLock.release();
    }
  } finally {
    await stream.close();
  }
}

/** What `am projections serve --postgres URL` does: see PostgresProjector. */
export async function runProjectionsServe(opts: ServeOptions): Promise<void> {
  const config = loadConfig();
  const url = opts.postgres ?? config.AM_POSTGRES_URL;
  if (url === undefined || url === '') {
    throw new AppError(
      'AM_ERR_CONFIG_INVALID',
      'no Postgres database: give --postgres URL or set AM_POSTGRES_URL',
    );
  }
  if (opts.batch !== undefined && !(Number.isInteger(opts.batch) && opts.batch > 0)) {
    throw new AppError('AM_ERR_CONFIG_INVALID', '--batch must be a positive integer');
  }
  // pg is loaded only by this command.
  const postgres = await import('../../projections/postgres/index.ts');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const warn = (line: string) => process.stderr.write(`${line}\n`);
  const stopSignal = untilSignal();
  const stopping = new AbortController();
  void stopSignal.then(() => stopping.abort());
  const target = postgres.redactPostgresUrl(url);
  const stream = await openStream(config, 'am-projections-postgres', { joinRunningEmbedded: true });
  let projector: PostgresProjector | null = null;
  const stop = () =>
    stopWithin(
      config.AM_SHUTDOWN_TIMEOUT_MS,
      async () => {
        try {
          await projector?.stop();
        } finally {
          await stream.close();
        }
      },
      () => warn(`am projections serve: not stopped within ${config.AM_SHUTDOWN_TIMEOUT_MS} ms; exiting`),
    );
  try {
    // While catching up; the line that ends it says where it got.
    const progress = progressLine({ everyMs: 1_000, drawLast: false });
    projector = await postgres.PostgresProjector.start(
      {
        source: stream.store,
        subjects: stream.store.subjects,
        streamName: config.AM_STREAM,
        url,
        ...(opts.batch === undefined ? {} : { maxBatch: opts.batch }),
        onProgress: progress.update,
        onRetry: ({ error, tries, delayMs, fromSeq }) =>
          warn(
            `postgres: ${describe(error)}; ${fromSeq === null ? 'connecting' : `the batch from seq ${fromSeq}`} again in ${delayMs < 1_000 ? `${delayMs} ms` : `${delayMs / 1000} s`} (try ${tries + 1})`,
          ),
        onRecovered: ({ tries, fromSeq }) =>
          warn(`postgres: back; the batch from seq ${fromSeq} went through on try ${tries}`),
        onFeedError: (error) => warn(`nats: ${describe(error)}; the feed starts again`),
      },
      stopping.signal,
    );
    progress.begin(projector.fromSeq - 1);
    say(
      `projecting stream ${config.AM_STREAM} (${stream.describe}) into ${target}: from seq ${projector.fromSeq}, ${projector.targetSeq - projector.fromSeq + 1} events to catch up`,
    );
    const caught = await Promise.race([
      projector.caughtUp,
      stopSignal.then(() => null),
      projector.done.then(() => null),
    ]);
    if (caught !== null) {
      progress.end();
      const rate = Math.round(caught.events / Math.max(caught.ms / 1000, 0.001));
      say(`caught up at seq ${caught.seq} (${rate} events/s)`);
      say('following the stream (SIGTERM or Ctrl-C stops)');
      await Promise.race([stopSignal, projector.done]);
    }
    await stop();
    say(`stopped at seq ${projector.appliedSeq}`);
  } catch (error) {
    await stop();
    // A signal while Postgres was being waited for is a stop, not a failure.
    if (!stopping.signal.aborted) throw error;
    say('stopped before the read model was opened');
  }
}

/**
 * A progress line: a bar redrawn in place on a terminal (every 100 ms), else a line at most every
 * `everyMs`, with the rate since `begin(base)` (made at once with base 0 unless told otherwise).
 * `drawLast` draws the line of the last update even when it comes sooner.
 */
function progressLine(opts: { everyMs: number; drawLast: boolean }): {
  begin: (base: number) => void;
  update: (applied: number, target: number) => void;
  end: () => void;
} {
  const tty = process.stdout.isTTY === true;
  let startedAt = performance.now();
  let base = 0;
  let lastDraw = 0;
  let drawn = false;
  return {
    begin(from) {
      base = from;
      startedAt = performance.now();
    },
    update(applied, target) {
      const now = performance.now();
      const due = now - lastDraw >= (tty ? 100 : opts.everyMs);
      if (!due && !(opts.drawLast && applied >= target)) return;
      if (applied >= target && !opts.drawLast) return;
      lastDraw = now;
      drawn = true;
      const ratio = target === 0 ? 1 : applied / target;
      const bar = '#'.repeat(Math.round(ratio * 30)).padEnd(30, '.');
      const rate = Math.round((applied - base) / Math.max((now - startedAt) / 1000, 0.001));
      const line = `[${bar}] ${applied}/${target} events  ${rate} events/s`;
      process.stdout.write(tty ? `\r${line}` : `${line}\n`);
    },
    end() {
      if (tty && drawn) process.stdout.write('\n');
    },
  };
}

interface OpenStream {
  store: EventStore;
  /** Where the stream is, for a message. */
  describe: string;
  close(): Promise<void>;
}

/**
 * The event store as `am server` (NATS_URL, NATS_USER/NATS_PASSWORD/NATS_TOKEN) or `am up` (the embedded
 * server of AM_HOME) reaches it. Without NATS_URL: the embedded server of a running `am up` is joined
 * with its service credentials when `joinRunningEmbedded` (a follower beside it), else started here as
 * `am projections rebuild` does (refused while `am up` holds AM_HOME).
 */
async function openStream(
  config: Config,
  name: string,
  opts: { joinRunningEmbedded: boolean },
): Promise<OpenStream> {
  let embedded: EmbeddedNats | null = null;
  let nc: NatsConnection;
  let describe: string;
  if (config.NATS_URL !== undefined) {
    nc = await connectNats({
      servers: natsServers(config),
      name,
      ...(config.NATS_USER ? { user: config.NATS_USER } : {}),
      ...(config.NATS_PASSWORD ? { pass: config.NATS_PASSWORD } : {}),
      ...(config.NATS_TOKEN ? { token: config.NATS_TOKEN } : {}),
    });
    describe = `NATS ${config.NATS_URL}`;
  } else {
    const running = opts.joinRunningEmbedded ? await joinEmbedded(config.AM_HOME, name) : null;
    if (running !== null) {
      nc = running.nc;
      describe = `the embedded NATS of am up at ${running.url}`;
    } else {
      embedded = await startEmbeddedNats({
        home: config.AM_HOME,
        ...(config.AM_NATS_SERVER_BIN ? { binary: config.AM_NATS_SERVER_BIN } : {}),
      });
      try {
        nc = await connectNats({
          servers: [embedded.url],
          name,
          user: embedded.users.service.user,
          pass: embedded.users.service.password,
        });
      } catch (error) {
        await embedded.stop();
        throw error;
      }
      describe = `the embedded NATS of ${config.AM_HOME}, started here`;
    }
  }
  const close = async () => {
    try {
      await closeNats(nc, 2_000);
    } finally {
      await embedded?.stop();
    }
  };
  try {
    const store = await EventStore.open(nc, {
      streamName: config.AM_STREAM,
      subjectPrefix: config.AM_SUBJECT_PREFIX,
      replicas: config.AM_REPLICAS,
    });
    return { store, describe, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The embedded server of a running `am up` on `home`, joined with the service user it keeps in
 * `<home>/nats/embedded.json`; null when there is none or it does not answer.
 */
async function joinEmbedded(home: string, name: string): Promise<{ nc: NatsConnection; url: string } | null> {
  const path = join(home, 'nats', 'embedded.json');
  if (!existsSync(path)) return null;
  let state: { port?: unknown; users?: { service?: { user?: unknown; password?: unknown } } };
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as typeof state;
  } catch {
    return null;
  }
  const service = state.users?.service;
  if (
    typeof state.port !== 'number' ||
    typeof service?.user !== 'string' ||
    typeof service.password !== 'string'
  ) {
    return null;
  }
  const url = `nats://127.0.0.1:${state.port}`;
  try {
    const nc = await connectNats({
      servers: [url],
      name,
      user: service.user,
      pass: service.password,
      timeoutMs: 2_000,
    });
    return { nc, url };
  } catch {
    return null;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code)
    ? `${error.message} (${code})`
    : error.message;
}
