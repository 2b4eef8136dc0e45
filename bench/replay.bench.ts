/**
 * `npm run bench:replay`: events/s of a full `rebuild()` over >= 200k events, against a raw baseline
 * in the same run (the same ordered consumer feeding plain SQLite inserts, no domain code), and their
 * ratio, and the peak RSS of this process during the rebuild (sampled every 50 ms). Prints one JSON object
 * with headline rows: ratio ≥ 0.6; peak RSS bounded (reported with the event count: compare sizes).
 * Uses NATS_URL when set, else a private nats-server on a free port.
 *
 * Options (env): BENCH_GRAPHS (default 200), BENCH_TASKS (default 500): events = graphs * (1 + 2 * tasks);
 * BENCH_RUNS (default 3): baseline and rebuild runs, alternating; each side's fastest counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid';
import { type DomainEvent, stamp } from '../src/events/index.ts';
import { rebuildReadModel } from '../src/projections/index.ts';
import { connectNats } from '../src/store/connect.ts';
import { EventStore } from '../src/store/event-store.ts';
import { startNatsServerProcess } from '../src/store/nats-server-process.ts';
import { type HeadlineRow, printReport, round } from './support/bench-kit.ts';

const GRAPHS = Number(process.env.BENCH_GRAPHS ?? 200);
const TASKS = Number(process.env.BENCH_TASKS ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const APPEND_WINDOW = 2_000;
const BASELINE_BATCH = 500;
const RATIO_GOAL = 0.6;
const RSS_SAMPLE_MS = 50;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'am-bench-replay-'));
  const server = process.env.NATS_URL ? null : await startNatsServerProcess({ storeDir: join(dir, 'nats') });
  const suffix = uuidv4().slice(0, 8);
  const settings = process.env.NATS_URL
    ? { streamName: `AM_BENCH_${suffix}`, subjectPrefix: `bench${suffix}.evt`, replicas: 1 }
    : { streamName: 'AM_EVENTS', subjectPrefix: 'am.evt', replicas: 1 };
  const nc = await connectNats({ servers: process.env.NATS_URL ?? server!.url });
  try {
    const store = await EventStore.open(nc, settings);
    // Appended through a store of its own: a store hands its own appends to its feed already checked
    // (OwnAppends), and a replay must decode every event, as a fresh process does.
    const append = await appendWorkload(await EventStore.open(nc, settings));
    const tail = await store.lastSeq();

    // Baseline and rebuild run alternately, RUNS times each, and each side's fastest run counts: this
    // 2-core machine's speed drifts by 10% within a minute, and both sides get the same treatment.
    const baselineRuns: Array<{ ms: number; rows: number }> = [];
    const rebuildRuns: Array<{ ms: number; resultRows: number; peakRssMb: number }> = [];
    for (let run = 1; run <= RUNS; run++) {
      baselineRuns.push(await rawBaseline(store, join(dir, `baseline-${run}.sqlite`), tail));
      rebuildRuns.push(await timedRebuild(store, join(dir, `rebuild-${run}.sqlite`)));
    }
    const baseline = fastest(baselineRuns);
    const rebuild = fastest(rebuildRuns);
    const rebuildRate = tail / (rebuild.ms / 1000);
    const baselineRate = tail / (baseline.ms / 1000);
    const ratio = round(rebuildRate / baselineRate, 3);
    const peakRssMb = Math.max(...rebuildRuns.map((r) => r.peakRssMb));
    const headline: HeadlineRow[] = [
      {
        figure: 'Rebuild events/s ÷ raw baseline',
        value: ratio,
        unit: '×',
        goal: `≥ ${RATIO_GOAL}`,
        met: ratio >= RATIO_GOAL,
        bullmq: null,
      },
      {
        figure: `Peak RSS of a rebuild of ${tail.toLocaleString('en-US')} events`,
        value: peakRssMb,
        unit: 'MB',
        goal: 'bounded',
        // One size cannot show boundedness: compare runs with other BENCH_GRAPHS.
        met: null,
        bullmq: null,
      },
    ];
    printReport({
      benchmark: 'replay',
      headline,
      nats: process.env.NATS_URL ? 'external' : 'private nats-server',
      events: tail,
      graphs: GRAPHS,
      tasksPerGraph: TASKS,
      append: { ms: Math.round(append.ms), eventsPerSec: Math.round(tail / (append.ms / 1000)) },
      rebuild: {
        ms: Math.round(rebuild.ms),
        eventsPerSec: Math.round(rebuildRate),
        resultRows: rebuild.resultRows,
        runsMs: rebuildRuns.map((r) => Math.round(r.ms)),
        peakRssMbPerRun: rebuildRuns.map((r) => r.peakRssMb),
      },
      baseline: {
        ms: Math.round(baseline.ms),
        eventsPerSec: Math.round(baselineRate),
        rows: baseline.rows,
        runsMs: baselineRuns.map((r) => Math.round(r.ms)),
      },
      ratio,
      target: RATIO_GOAL,
      rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
    });
  } finally {
    await nc.drain();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A full rebuild into a new read-model file, exactly as `am projections rebuild` runs it, with this
 * process's peak RSS while it ran (the appended workload's memory is in it too: a fresh process's would
 * be lower, never higher).
 */
async function timedRebuild(
  store: EventStore,
  path: string,
): Promise<{ ms: number; resultRows: number; peakRssMb: number }> {
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, RSS_SAMPLE_MS);
  let ms: number;
  try {
    ({ ms } = await rebuildReadModel(store, store.subjects, path));
  } finally {
    clearInterval(sampler);
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number };
    return { ms, resultRows: rows.n, peakRssMb: round(peakRss / 1024 / 1024, 1) };
  } finally {
    db.close();
  }
}

function fastest<T extends { ms: number }>(runs: readonly T[]): T {
  return runs.reduce((best, run) => (run.ms < best.ms ? run : best));
}

/** Explicit graphs whose every task is claimed and completed: 1 + 2 * TASKS events each, appended pipelined. */
async function appendWorkload(store: EventStore): Promise<{ ms: number }> {
  const startedAt = performance.now();
  let inFlight: Promise<unknown>[] = [];
  let now = Date.now();
  const meta = (actor: string) => ({ now: now++, actor, newId: uuidv7 });
  const push = async (subject: string, event: DomainEvent, expected: number | null) => {
    inFlight.push(store.append({ subject, event, expectedLastSubjectSeq: expected, msgId: event.id }));
    if (inFlight.length >= APPEND_WINDOW) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  };
  for (let g = 0; g < GRAPHS; g++) {
    const graphId = uuidv4();
    const tasks = Array.from({ length: TASKS }, (_, i) => ({
      id: `t${i}`,
      title: `Task ${i}`,
      instructions: `Do step ${i} of the benchmark goal.`,
    }));
    await push(
      store.subjects.graph(graphId),
      stamp(
        {
          type: 'GraphSubmitted',
          graphId,
          data: {
            goal: 'benchmark',
            tasks,
            options: { maxReworkCycles: 2, maxAttempts: 3, leaseMs: 60_000, priority: 0 },
            idempotencyKey: null,
          },
        },
        meta('admin'),
      ),
      0,
    );
    // Claims need their token (the TaskClaimed sequence) before the completion: wait for this graph's claims.
    await Promise.all(inFlight);
    inFlight = [];
    const claims = await Promise.all(
      tasks.map((task) =>
        store.append({
          subject: store.subjects.task(graphId, task.id),
          event: stamp(
            {
              type: 'TaskClaimed',
              graphId,
              taskId: task.id,
              data: {
                agentId: 'bench',
                requestId: `${graphId}:${task.id}`,
                attempt: 1,
                cycle: 1,
                leaseUntil: now + 60_000,
              },
            },
            meta('bench'),
          ),
          expectedLastSubjectSeq: 0,
          msgId: `claim:bench:${graphId}:${task.id}`,
        }),
      ),
    );
    for (const [i, task] of tasks.entries()) {
      const claimSeq = claims[i]!.seq;
      await push(
        store.subjects.task(graphId, task.id),
        stamp(
          {
            type: 'TaskCompleted',
            graphId,
            taskId: task.id,
            data: {
              claimToken: String(claimSeq),
              result: {
                output: `output of ${task.id}`,
                history: [{ thought: 'done', action: { type: 'final', answer: `output of ${task.id}` } }],
                model: 'bench',
              },
            },
          },
          meta('bench'),
        ),
        claimSeq,
      );
    }
  }
  await Promise.all(inFlight);
  return { ms: performance.now() - startedAt };
}

/** The same feed, no domain code: each message becomes one row, in transactions of the same size. */
async function rawBaseline(
  store: EventStore,
  path: string,
  tail: number,
): Promise<{ ms: number; rows: number }> {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE raw (seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, data BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO raw (seq, subject, data) VALUES (?, ?, ?)');
  const flush = db.transaction((rows: Array<{ seq: number; subject: string; data: Uint8Array }>) => {
    for (const row of rows) insert.run(row.seq, row.subject, row.data);
  });
  const startedAt = performance.now();
  const abort = new AbortController();
  let buffer: Array<{ seq: number; subject: string; data: Uint8Array }> = [];
  // The projector's own feed (consumeBatches), so both sides pay the same for delivery.
  feed: for await (const delivered of store.consumeBatches(1, { signal: abort.signal })) {
    for (const message of delivered) {
      buffer.push(message);
      if (buffer.length >= BASELINE_BATCH || message.pending === 0) {
        flush(buffer);
        buffer = [];
      }
      if (message.seq >= tail) {
        abort.abort();
        break feed;
      }
    }
  }
  if (buffer.length > 0) flush(buffer);
  const ms = performance.now() - startedAt;
  const rows = (db.prepare('SELECT COUNT(*) AS n FROM raw').get() as { n: number }).n;
  db.close();
  return { ms, rows };
}

await main();
