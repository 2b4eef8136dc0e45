import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../config.ts';
import { AppError } from '../../errors.ts';
import type { TaskGraph, TrailEvent } from '../../protocol/index.ts';
import { agentsFromConfig } from '../agents-factory.ts';
import { type LocalStack, startLocalStack } from '../local-stack.ts';
import { createLogger } from '../logger.ts';
import { type StopReason, stopWithin, untilFatal, untilSignal } from '../process-signals.ts';

/** The goal's `[[BAD-ONCE]]` marker makes the offline auditor fail one task in cycle 1 (docs/offline-provider.md). */
export const DEMO_GOAL =
  'Write a short briefing on event sourcing for a team new to it, and compute 12*7+6 as the number of events in the example [[BAD-ONCE]]';

export interface DemoOptions {
  timeout: number;
}

/** What `am demo` does (its options are in demo.ts; this file is loaded only when it runs). */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const base = loadConfig();
  const home = mkdtempSync(join(tmpdir(), 'am-demo-'));
  const config = Object.freeze({
    ...base,
    AM_HOME: home,
    AM_DB: join(home, 'read-model.sqlite'),
    AM_HTTP_PORT: 0,
    AM_HTTP_HOST: '127.0.0.1',
    AM_ADMIN_TOKEN: undefined,
    AM_LLM_PROVIDER: 'offline' as const,
    AM_RECONCILE_INTERVAL_MS: 200,
    AM_MANAGER: true,
  });
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const log = createLogger({ AM_LOG_LEVEL: 'error' }, 'am-demo');
  // A signal, or nobody reading the rest (`am demo | head`): stop waiting, but still shut down (within
  // AM_SHUTDOWN_TIMEOUT_MS) and remove the home.
  let stopReason: StopReason | null = null;
  const stopSignal = untilSignal().then((reason) => {
    stopReason = reason;
    return reason;
  });
  const stopped = () => stopReason !== null;
  const fatal = untilFatal();
  print('Starting NATS, the server, the manager and 3 workers (offline model)…');
  const starting = startLocalStack({
    config,
    log,
    agents: agentsFromConfig(config),
    workers: 3,
    workerMode: 'in-process',
    onFatal: fatal.report,
  });
  const shutDown = () =>
    stopWithin(
      config.AM_SHUTDOWN_TIMEOUT_MS,
      async () => {
        try {
          await (await starting).stop();
        } finally {
          rmSync(home, { recursive: true, force: true });
        }
      },
      () =>
        process.stderr.write(`am demo: not stopped within ${config.AM_SHUTDOWN_TIMEOUT_MS} ms; exiting\n`),
    );
  let stack: LocalStack;
  try {
    const first = await Promise.race([starting, stopSignal]);
    if (typeof first === 'string') {
      await shutDown();
      if (first !== 'stdout closed') process.exitCode = 1;
      return;
    }
    stack = first;
  } catch (error) {
    rmSync(home, { recursive: true, force: true });
    throw error;
  }
  void fatal.failed.then(() => {
    process.stderr.write('am demo: the projector stopped after an error\n');
    stopReason ??= 'SIGTERM';
  });
  let status = 'UNKNOWN';
  try {
    const call = async <T>(path: string, init?: RequestInit): Promise<T> => {
      const response = await fetch(new URL(path, stack.url), {
        ...init,
        headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      });
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    };
    print(`Goal: ${DEMO_GOAL}`);
    print(
      '(The [[BAD-ONCE]] marker makes the offline auditor fail one task in cycle 1, so the demo shows a failed audit, the rework of that task and its dependents, and a passing audit in cycle 2.)',
    );
    const { graphId, seq } = await call<{ graphId: string; seq: number }>('/v1/tasks', {
      method: 'POST',
      body: JSON.stringify({ goal: DEMO_GOAL }),
    });
    print(`Graph ${graphId} submitted.`);
    const deadline = Date.now() + opts.timeout * 1000;
    let graph: TaskGraph | null = null;
    let last = '';
    while (Date.now() < deadline && !stopped()) {
      graph = await call<TaskGraph>(`/v1/graphs/${graphId}?minSeq=${seq}`);
      const done = graph.tasks.filter((t) => t.kind === 'work' && t.status === 'COMPLETED').length;
      const total = graph.tasks.filter((t) => t.kind === 'work').length;
      const line = `  ${graph.graph.status.padEnd(12)} cycle ${graph.graph.cycle}  tasks ${done}/${total}  audits ${graph.audits.map((a) => (a.passed ? 'passed' : 'failed')).join(', ') || '-'}`;
      if (line !== last) print(line);
      last = line;
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(graph.graph.status)) break;
      await sleep(100);
    }
    if (stopped()) return;
    if (!graph) throw new AppError('AM_ERR_INTERNAL', 'the demo graph never appeared');
    status = graph.graph.status;
    const { events } = await call<{ events: TrailEvent[] }>(`/v1/graphs/${graphId}/events?limit=10000`);
    print('');
    print('Audit trail (event types in order):');
    for (const event of events) {
      if (event.type === 'TaskProgressed') continue;
      print(
        `  #${String(event.seq).padStart(4)} ${event.type}${event.taskId ? ` ${event.taskId}` : ''}${describe(event)}`,
      );
    }
    print('');
    if (status === 'SUCCEEDED') {
      print('Final answer:');
      print(graph.graph.output ?? '');
    } else {
      print(`The graph ended ${status}: ${graph.graph.failure?.message ?? 'timed out'}`);
    }
  } finally {
    await shutDown();
  }
  if (status !== 'SUCCEEDED' && stopReason !== 'stdout closed') process.exitCode = 1;
}

function describe(event: TrailEvent): string {
  const data = event.data as Record<string, unknown>;
  switch (event.type) {
    case 'AuditFailed':
      return ` (cycle ${String(data.cycle)}: rework ${(data.rework as string[]).join(', ')})`;
    case 'AuditPassed':
    case 'GraphCompleted':
      return ` (cycle ${String(data.cycle)})`;
    case 'TaskClaimed':
      return ` by ${String(data.agentId)}`;
    default:
      return '';
  }
}
