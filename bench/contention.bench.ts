/**
 * `npm run bench:contention`: how often claims race when many workers grab from a full READY set through
 * two AM servers. 1,000 tasks (2 graphs of 500, no dependencies) are submitted while no worker runs;
 * once both servers hold all 1,000 in their READY index, 32 worker slots (8 processes x 4) start at the
 * same moment and drain them (a no-op body unless BENCH_TASK_MS). A claim is a decision appended to the
 * stream with an expected sequence; two servers deciding on the same task at once make one of them
 * conflict (it moves on to the next candidate).
 *
 * Conflicts per claim = the conflicts both servers counted (am_claims_total{outcome="conflict"}) ÷ the
 * claims they appended ({outcome="claimed"}), deltas of GET /metrics over the run.
 *
 * Servers: the kit's in-process server and `am server` in a second process (contention-second-server.ts).
 * Workers: over NATS (default) every slot sends claims to the one queue group both servers serve, so
 * NATS spreads each request to either server; over HTTP (BENCH_TRANSPORT=http) processes 1-4 call the
 * first server and 5-8 the second.
 *
 * A claim's expected sequence is its task's last one, so only two decisions on the same task conflict;
 * one server never races itself (its READY index reserves a candidate), so BENCH_SERVERS=1 (no second
 * server: a baseline) shows how much of the figure the second server brings.
 *
 * Env: BENCH_SERVERS (2), BENCH_TASKS (1000), BENCH_GRAPH_SIZE (500), BENCH_PROCESSES (8), BENCH_CONCURRENCY (4),
 * BENCH_TRANSPORT (nats|http), BENCH_TASK_MS (0), NATS_URL.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  addWorkerAgent,
  api,
  type HeadlineRow,
  printReport,
  round,
  spawnAll,
  startBenchStack,
  stopAll,
} from './support/bench-kit.ts';
import { startSecondServer } from './support/contention-second-server.ts';

const TASKS = Number(process.env.BENCH_TASKS ?? 1_000);
const GRAPH_SIZE = Number(process.env.BENCH_GRAPH_SIZE ?? 500);
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 8);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const TRANSPORT = process.env.BENCH_TRANSPORT === 'http' ? 'http' : 'nats';
const SERVERS = process.env.BENCH_SERVERS === '1' ? 1 : 2;
const TASK_MS = Number(process.env.BENCH_TASK_MS ?? 0);
const GOAL = 0.2;
const TIMEOUT_MS = 120_000;

type ClaimCounts = { claimed: number; conflict: number; stale: number; ready: number };

/** The claim tallies and READY index size of one server, from its Prometheus text. */
async function claimCounts(url: string, adminToken: string): Promise<ClaimCounts> {
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  if (!response.ok) throw new Error(`GET ${url}/metrics: ${response.status}`);
  const text = await response.text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
  return {
    claimed: value(/^am_claims_total\{outcome="claimed"\} (\S+)$/m),
    conflict: value(/^am_claims_total\{outcome="conflict"\} (\S+)$/m),
    stale: value(/^am_claims_total\{outcome="stale"\} (\S+)$/m),
    ready: value(/^am_ready_tasks (\S+)$/m),
  };
}

function delta(after: ClaimCounts, before: ClaimCounts): Omit<ClaimCounts, 'ready'> {
  return {
    claimed: after.claimed - before.claimed,
    conflict: after.conflict - before.conflict,
    stale: after.stale - before.stale,
  };
}

const benchStart = performance.now();
function progress(line: string): void {
  process.stderr.write(`contention [${round((performance.now() - benchStart) / 1000, 1)} s]: ${line}\n`);
}

async function main(): Promise<void> {
  const stack = await startBenchStack('contention');
  progress('in-process server ready');
  const second =
    SERVERS === 1
      ? null
      : await startSecondServer(stack).catch(async (error: unknown) => {
          await stack.stop();
          throw error;
        });
  const servers = second ? [stack.server.url, second.url] : [stack.server.url];
  if (second) progress(`second server ready at ${second.url}`);
  try {
    const token = await addWorkerAgent(stack, `bench-${stack.suffix}`);
    const graphIds = new Set<string>();
    for (let submitted = 0; submitted < TASKS; submitted += GRAPH_SIZE) {
      const size = Math.min(GRAPH_SIZE, TASKS - submitted);
      const { graphId } = await api<{ graphId: string }>(
        stack.server.url,
        stack.adminToken,
        'POST',
        '/v1/tasks',
        {
          goal: 'contention',
          tasks: Array.from({ length: size }, (_, i) => ({
            id: `t${i}`,
            title: `task ${i}`,
            instructions: TASK_MS > 0 ? `sleep ${TASK_MS}` : 'nothing',
          })),
        },
      );
      graphIds.add(graphId);
    }
    // Both servers must hold every task as READY, else one of them starts with less to race for.
    const readyDeadline = Date.now() + 60_000;
    for (;;) {
      const counts = await Promise.all(servers.map((url) => claimCounts(url, stack.adminToken)));
      if (counts.every((c) => c.ready >= TASKS)) break;
      if (Date.now() > readyDeadline)
        throw new Error(`not all READY: ${counts.map((c) => c.ready).join(', ')}`);
      await sleep(100);
    }
    progress(`${TASKS} READY on every server; starting ${PROCESSES} x ${CONCURRENCY} ${TRANSPORT} slots`);

    let completed = 0;
    let firstClaimAt = Number.NaN;
    let lastCompletedAt = Number.NaN;
    let allDone: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    const stopListening = stack.server.node.ctx.projector.onApplied((batch) => {
      for (const { event, anomaly } of batch.events) {
        if (anomaly !== null || event.graphId === undefined || !graphIds.has(event.graphId)) continue;
        if (event.type === 'TaskClaimed' && Number.isNaN(firstClaimAt)) firstClaimAt = performance.now();
        if (event.type === 'TaskCompleted') {
          completed += 1;
          if (completed >= TASKS) {
            lastCompletedAt = performance.now();
            allDone();
          }
        }
      }
    });
    const half = Math.ceil(PROCESSES / 2);
    const workers = (
      await Promise.all(
        [half, PROCESSES - half].map((count, i) =>
          spawnAll(count, 'bench/support/sleep-worker.ts', {
            AM_URL: servers[i] ?? stack.server.url,
            AM_TOKEN: token,
            NATS_URL: stack.natsUrl,
            BENCH_TRANSPORT: TRANSPORT,
            BENCH_CONCURRENCY: String(CONCURRENCY),
            BENCH_HOLD: '1',
          }),
        ),
      )
    ).flat();
    progress('workers connected; go');
    const before = await Promise.all(servers.map((url) => claimCounts(url, stack.adminToken)));
    for (const worker of workers) worker.kill('SIGUSR2');
    const giveUp = new AbortController();
    const timeout = sleep(TIMEOUT_MS, undefined, { signal: giveUp.signal }).then(() => {
      throw new Error(`${completed} of ${TASKS} completed within ${TIMEOUT_MS} ms`);
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      giveUp.abort();
      timeout.catch(() => {});
    }
    stopListening();
    const after = await Promise.all(servers.map((url) => claimCounts(url, stack.adminToken)));
    progress('all completed; stopping the workers');
    await stopAll(workers);

    const perServer = after.map((a, i) => delta(a, before[i] as ClaimCounts));
    const claimed = perServer.reduce((sum, s) => sum + s.claimed, 0);
    const conflicts = perServer.reduce((sum, s) => sum + s.conflict, 0);
    const stale = perServer.reduce((sum, s) => sum + s.stale, 0);
    const perClaim = round(conflicts / Math.max(1, claimed), 4);
    const seconds = (lastCompletedAt - firstClaimAt) / 1000;
    progress(
      `${claimed} claims, ${conflicts} conflicts (${perClaim} per claim), ${stale} stale; ${round(seconds, 2)} s`,
    );
    const headline: HeadlineRow[] = [
      {
        figure: `Claim conflicts per claim (${PROCESSES * CONCURRENCY} workers, ${SERVERS} server${SERVERS === 1 ? '' : 's'}, ${TASKS.toLocaleString('en')} READY, ${TRANSPORT.toUpperCase()})`,
        value: perClaim,
        unit: 'conflicts/claim',
        goal: `≤ ${GOAL}`,
        met: perClaim <= GOAL,
        bullmq: 'n/a (a claim is one Redis Lua script: no races to lose)',
      },
    ];
    printReport({
      benchmark: 'contention',
      headline,
      tasks: TASKS,
      graphs: graphIds.size,
      taskBodyMs: TASK_MS,
      workers: `${PROCESSES} processes x concurrency ${CONCURRENCY}`,
      transport:
        TRANSPORT === 'nats'
          ? 'nats: all slots on the one queue group every server serves (NATS picks the server per request)'
          : SERVERS === 1
            ? 'http: all processes on the one server'
            : `http: ${half} processes on server 1, ${PROCESSES - half} on server 2`,
      servers: ['in-process (the kit)', 'am server --no-manager, a second process'].slice(0, SERVERS),
      claims: claimed,
      conflicts,
      staleCandidates: stale,
      claimsPerServer: perServer.map((s) => s.claimed),
      conflictsPerServer: perServer.map((s) => s.conflict),
      wallSeconds: round(seconds, 3),
      wallClock: 'first TaskClaimed to last TaskCompleted, applied by the in-process projector',
      tasksPerSec: round(TASKS / seconds, 0),
    });
  } finally {
    progress('stopping the servers');
    await second?.stop();
    await stack.stop();
    progress('stopped');
  }
}

await main();
