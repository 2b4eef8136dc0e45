import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DomainEvent } from '../../src/events/index.ts';
import { EventStore, type TrailEntry } from '../../src/store/event-store.ts';
import { type Proc, ROOT, type ServerProc, spawnProc, workerConfig } from '../e2e/support/processes.ts';
import type { TestNats } from '../kit/index.ts';

/** A `test/fixtures/slow-worker.ts` process for a newly registered worker agent. */
export async function slowWorker(
  server: ServerProc,
  dir: string,
  agentId: string,
  opts: { transport: 'http' | 'nats'; natsUrl: string; slowMs: number; concurrency: number },
): Promise<Proc> {
  const file = await workerConfig(server, dir, agentId);
  const token = (JSON.parse(readFileSync(file, 'utf8')) as { auth_token: string }).auth_token;
  const proc = spawnProc(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/slow-worker.ts')], {
    AM_URL: server.url,
    AM_TOKEN: token,
    TRANSPORT: opts.transport,
    NATS_URL: opts.natsUrl,
    SLOW_MS: String(opts.slowMs),
    CONCURRENCY: String(opts.concurrency),
    GRACE_MS: '500',
  });
  await proc.waitFor(/^ready$/m, 30_000);
  return proc;
}

/** The results a slow worker says were acknowledged: `completed <graphId> <taskId> <seq>` lines. */
export function acknowledgedResults(proc: Proc): Array<{ graphId: string; taskId: string; seq: number }> {
  return [...proc.output().matchAll(/^completed (\S+) (\S+) (\d+)$/gm)].map((m) => ({
    graphId: m[1] ?? '',
    taskId: m[2] ?? '',
    seq: Number(m[3]),
  }));
}

/** The whole stream, read by a store of the test's own (the truth every assertion is made on). */
export async function readStream(nats: TestNats): Promise<TrailEntry[]> {
  const nc: NatsConnection = await nats.connect('chaos-reader');
  try {
    const store = await EventStore.open(nc, nats.settings);
    const entries = await store.readAll();
    await store.close();
    return entries;
  } finally {
    await nc.close();
  }
}

export type Event = TrailEntry & { event: DomainEvent };

export function eventsOf(entries: readonly TrailEntry[]): Event[] {
  return entries.filter((entry): entry is Event => 'event' in entry);
}

/**
 * Replays the task subjects of the trail: which (graph, task, cycle) has more than one TaskCompleted, and
 * which TaskCompleted did not come from the claim current at that point. Both must be empty whatever
 * faults happened: the fencing (expected sequences, claim tokens, first claim wins) is what the tests prove.
 */
export function completionAnomalies(events: readonly Event[]): {
  completions: number;
  duplicates: string[];
  notFromCurrentClaim: string[];
} {
  const claimBySeq = new Map<number, { cycle: number; agentId: string }>();
  const holder = new Map<string, number | null>();
  const perCycle = new Map<string, number>();
  const notFromCurrentClaim: string[] = [];
  let completions = 0;
  for (const { seq, event } of events) {
    if (event.taskId === undefined || event.graphId === undefined) continue;
    const task = `${event.graphId}/${event.taskId}`;
    switch (event.type) {
      case 'TaskClaimed':
        // A claim on a task someone holds is void by rule (evolve): it never becomes the holder.
        if ((holder.get(task) ?? null) === null) {
          holder.set(task, seq);
          claimBySeq.set(seq, { cycle: event.data.cycle, agentId: event.data.agentId });
        }
        break;
      case 'TaskCompleted': {
        completions += 1;
        const token = Number(event.data.claimToken);
        if (holder.get(task) !== token) notFromCurrentClaim.push(`${task} at ${seq}`);
        const cycle = claimBySeq.get(token)?.cycle ?? 0;
        const key = `${task} cycle ${cycle}`;
        perCycle.set(key, (perCycle.get(key) ?? 0) + 1);
        holder.set(task, null);
        break;
      }
      case 'TaskReleased':
      case 'TaskLeaseExpired':
      case 'TaskAttemptFailed':
      case 'TaskFailed':
      case 'TaskCancelled':
        holder.set(task, null);
        break;
      default:
        break;
    }
  }
  const duplicates = [...perCycle].filter(([, n]) => n > 1).map(([key, n]) => `${key}: ${n}`);
  return { completions, duplicates, notFromCurrentClaim };
}

/** `/readyz` with the admin token: its status and JSON. */
export async function readyz(server: {
  url: string;
  adminToken: string;
}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/readyz`, {
    headers: { authorization: `Bearer ${server.adminToken}` },
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
