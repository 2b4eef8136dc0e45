import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { loadConfig, natsServers } from '../../config.ts';
import { rebuildReadModel } from '../../projections/index.ts';
import { connectNats } from '../../store/connect.ts';
import { startEmbeddedNats } from '../../store/embedded-nats.ts';
import { EventStore } from '../../store/event-store.ts';
import { lockReadModelFile } from '../../store/home-lock.ts';
import { onStdoutClosed } from '../process-signals.ts';

export interface RebuildOptions {
  db?: string;
}

/** What `am projections rebuild` does (its options are in projections.ts; this file is loaded only when it runs). */
export async function runProjectionsRebuild(opts: RebuildOptions): Promise<void> {
  const config = loadConfig();
  // A rebuild half done is worse than one nobody watches (`am projections rebuild | head -1`): finish it.
  onStdoutClosed(() => {});
  // Refused while `am up` runs on this AM_HOME: it holds the lock that the embedded NATS takes.
  const embedded =
    config.NATS_URL === undefined
      ? await startEmbeddedNats({
          home: config.AM_HOME,
          ...(config.AM_NATS_SERVER_BIN ? { binary: config.AM_NATS_SERVER_BIN } : {}),
        })
      : null;
  let nc: NatsConnection;
  try {
    nc = await connectNats({
      servers: embedded ? [embedded.url] : natsServers(config),
      name: 'am-rebuild',
      ...(embedded ? { user: embedded.users.service.user, pass: embedded.users.service.password } : {}),
      ...(!embedded && config.NATS_USER ? { user: config.NATS_USER } : {}),
      ...(!embedded && config.NATS_PASSWORD ? { pass: config.NATS_PASSWORD } : {}),
    });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  try {
    const store = await EventStore.open(nc, {
      streamName: config.AM_STREAM,
      subjectPrefix: config.AM_SUBJECT_PREFIX,
      replicas: config.AM_REPLICAS,
    });
    const dbPath =
      opts.db ?? config.AM_DB ?? join(config.AM_HOME, `read-model-${config.AM_HTTP_PORT}.sqlite`);
    // Refused while a server uses the file: the rebuild empties the tables it reads and writes.
    const fileLock = lockReadModelFile(dbPath);
    const tty = process.stdout.isTTY;
    const startedAt = performance.now();
    let lastDraw = 0;
    try {
      const { events, ms } = await rebuildReadModel(store, store.subjects, dbPath, {
        onProgress: (applied, target) => {
          const now = performance.now();
          if (now - lastDraw < 100 && applied < target) return;
          lastDraw = now;
          const ratio = target === 0 ? 1 : applied / target;
          const bar = '#'.repeat(Math.round(ratio * 30)).padEnd(30, '.');
          const rate = Math.round(applied / ((now - startedAt) / 1000));
          const line = `[${bar}] ${applied}/${target} events  ${rate} events/s`;
          process.stdout.write(tty ? `\r${line}` : `${line}\n`);
        },
      });
      process.stdout.write(
        `${tty ? '\n' : ''}rebuilt ${dbPath}: ${events} events in ${(ms / 1000).toFixed(2)} s (${Math.round(events / (ms / 1000))} events/s)\n`,
      );
    } finally {
      fileLock.release();
    }
  } finally {
    try {
      await nc.drain();
    } finally {
      await embedded?.stop();
    }
  }
}
