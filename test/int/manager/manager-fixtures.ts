import { join } from 'node:path';
import pino from 'pino';
import { v4 as uuidv4 } from 'uuid';
import {
  decideClaimTask,
  decideExtendLease,
  decidePlanTask,
  decideRetryGraph,
  decideSubmitResult,
  handleCommand,
  type PlanTask,
} from '../../../src/commands/index.ts';
import { AppError, isAppError } from '../../../src/errors.ts';
import type { DomainEvent, GraphState } from '../../../src/events/index.ts';
import { type Manager, type ManagerOptions, startManager } from '../../../src/manager/index.ts';
import type { AuditInput, ManagerAgents } from '../../../src/manager/manager-agents.ts';
import type { AppContext } from '../../../src/node/app-context.ts';
import { type AppNode, startAppNode } from '../../../src/node/app-node.ts';
import type { Clock } from '../../../src/node/clock.ts';
import type { AuditReport, GraphStatus, TaskSpec } from '../../../src/protocol/index.ts';
import { makeTempDir, removeTempDir, startTestNats, type TestNats, waitUntil } from '../../kit/index.ts';

/** AM_TEST_LOG=debug shows the manager's logs while a test runs. */
const testLog = pino({ level: process.env.AM_TEST_LOG ?? 'silent' });

/** A nats-server with AppNodes (each its own read model and projector) and the managers started on them. */
export interface ManagerCluster {
  nats: TestNats;
  nodes: AppNode[];
  /** A node (its own read model and projector); `clock` drives its deciders, manager and claims. */
  addNode(opts?: { clock?: Clock }): Promise<AppContext>;
  startManager(ctx: AppContext, opts: Omit<ManagerOptions, 'ctx'>): Manager;
  cleanup(): Promise<void>;
}

export async function startManagerCluster(name: string): Promise<ManagerCluster> {
  const nats = await startTestNats();
  const dir = makeTempDir(`am-manager-${name}`);
  const nodes: AppNode[] = [];
  const managers: Manager[] = [];
  return {
    nats,
    nodes,
    async addNode(opts = {}) {
      const nc = await nats.connect(`${name}-${nodes.length}`);
      const node = await startAppNode({
        nc,
        store: nats.settings,
        dbPath: join(dir, `node-${nodes.length}.sqlite`),
        log: testLog.child({ node: nodes.length }),
        ...(opts.clock === undefined ? {} : { clock: opts.clock }),
      });
      nodes.push(node);
      return node.ctx;
    },
    startManager(ctx, opts) {
      const manager = startManager({ ctx, ...opts });
      managers.push(manager);
      return manager;
    },
    async cleanup() {
      await Promise.allSettled(managers.map((m) => m.stop()));
      await Promise.allSettled(nodes.map((n) => n.close()));
      await nats.cleanup();
      removeTempDir(dir);
    },
  };
}

const ADMIN = 'admin';

export async function submitGraph(
  ctx: AppContext,
  data: { goal: string; tasks?: TaskSpec[]; options?: PlanTask['data']['options'] },
): Promise<string> {
  const graphId = uuidv4();
  const outcome = await handleCommand(ctx.ports, {
    actor: ADMIN,
    load: () => ctx.projector.graphState(graphId),
    decide: (state, metadata) =>
      decidePlanTask({ type: 'PlanTask', data: { graphId, ...data }, metadata }, state),
  });
  await ctx.projector.waitFor(outcome.seq, 5_000);
  return graphId;
}

export async function retryGraph(ctx: AppContext, graphId: string): Promise<void> {
  const outcome = await handleCommand(ctx.ports, {
    actor: ADMIN,
    load: () => ctx.projector.graphState(graphId),
    decide: (state, metadata) => decideRetryGraph({ type: 'RetryGraph', data: { graphId }, metadata }, state),
  });
  await ctx.projector.waitFor(outcome.seq, 5_000);
}

/** One claim attempt: the token, or the code it was refused with. */
export async function claimOnce(
  ctx: AppContext,
  graphId: string,
  taskId: string,
  agentId = 'worker-1',
): Promise<{ token: string } | { refused: string }> {
  try {
    const outcome = await handleCommand(ctx.ports, {
      actor: agentId,
      load: () => ctx.projector.graphState(graphId),
      decide: (state, metadata) =>
        decideClaimTask(
          { type: 'ClaimTask', data: { graphId, taskId, agentId, requestId: uuidv4() }, metadata },
          state,
        ),
    });
    await ctx.projector.waitFor(outcome.seq, 5_000);
    return { token: String(outcome.seq) };
  } catch (error) {
    if (isAppError(error)) return { refused: error.code };
    throw error;
  }
}

/** A worker's claim, retried while the task is not claimable yet (PENDING, backing off). Returns the token. */
export async function claim(
  ctx: AppContext,
  graphId: string,
  taskId: string,
  agentId = 'worker-1',
  timeoutMs = 10_000,
): Promise<string> {
  let token = '';
  await waitUntil(
    async () => {
      const outcome = await claimOnce(ctx, graphId, taskId, agentId);
      if ('token' in outcome) {
        token = outcome.token;
        return true;
      }
      if (outcome.refused === 'AM_ERR_TASK_NOT_READY' || outcome.refused === 'AM_ERR_CONFLICT') return false;
      throw new Error(`claim ${taskId} refused: ${outcome.refused}`);
    },
    { timeoutMs, intervalMs: 25, message: `claim ${taskId}` },
  );
  return token;
}

export async function heartbeat(
  ctx: AppContext,
  graphId: string,
  taskId: string,
  claimToken: string,
  agentId = 'worker-1',
): Promise<void> {
  await handleCommand(ctx.ports, {
    actor: agentId,
    load: () => ctx.projector.graphState(graphId),
    decide: (state, metadata) =>
      decideExtendLease(
        { type: 'ExtendLease', data: { graphId, taskId, agentId, claimToken }, metadata },
        state,
      ),
  });
}

export async function complete(
  ctx: AppContext,
  graphId: string,
  taskId: string,
  claimToken: string,
  output: string,
  agentId = 'worker-1',
): Promise<void> {
  const outcome = await handleCommand(ctx.ports, {
    actor: agentId,
    load: () => ctx.projector.graphState(graphId),
    decide: (state, metadata) =>
      decideSubmitResult(
        {
          type: 'SubmitResult',
          data: {
            graphId,
            taskId,
            agentId,
            claimToken,
            status: 'completed',
            result: { output, history: [{ thought: 'done', action: { type: 'final', answer: output } }] },
          },
          metadata,
        },
        state,
      ),
  });
  await ctx.projector.waitFor(outcome.seq, 5_000);
}

/** Claims and completes a task like a worker would. */
export async function runTask(
  ctx: AppContext,
  graphId: string,
  taskId: string,
  output: string,
): Promise<void> {
  const token = await claim(ctx, graphId, taskId);
  await complete(ctx, graphId, taskId, token, output);
}

/** Runs READY work tasks until the current cycle has none left to run; returns the ids it ran, in order. */
export async function runCycle(
  ctx: AppContext,
  graphId: string,
  output: (taskId: string) => string = (id) => `output of ${id}`,
): Promise<string[]> {
  const ran: string[] = [];
  for (;;) {
    const state = graph(ctx, graphId);
    if (state.status !== 'RUNNING') return ran;
    const ready = [...state.tasks.values()].filter((t) => t.kind === 'work' && t.status === 'READY');
    if (ready.length === 0) return ran;
    for (const task of ready) {
      await runTask(ctx, graphId, task.id, output(task.id));
      ran.push(task.id);
    }
  }
}

export function graph(ctx: AppContext, graphId: string): GraphState {
  const state = ctx.projector.graphState(graphId);
  if (!state) throw new Error(`no graph ${graphId}`);
  return state;
}

export async function waitForStatus(
  ctx: AppContext,
  graphId: string,
  status: GraphStatus,
  timeoutMs = 10_000,
): Promise<GraphState> {
  await waitUntil(() => ctx.projector.graphState(graphId)?.status === status, {
    timeoutMs,
    message: `graph ${graphId} ${status} (is ${ctx.projector.graphState(graphId)?.status})`,
  });
  return graph(ctx, graphId);
}

/** The graph's trail as the stream holds it. */
export async function trail(ctx: AppContext, graphId: string): Promise<Array<DomainEvent & { seq: number }>> {
  const entries = await ctx.store.readTrail(graphId);
  return entries.flatMap((entry) => ('event' in entry ? [{ ...entry.event, seq: entry.seq }] : []));
}

export async function eventsOf<T extends DomainEvent['type']>(
  ctx: AppContext,
  graphId: string,
  type: T,
): Promise<Array<Extract<DomainEvent, { type: T }> & { seq: number }>> {
  return (await trail(ctx, graphId)).filter(
    (e): e is Extract<DomainEvent, { type: T }> & { seq: number } => e.type === type,
  );
}

/** A planner/auditor double that counts its calls. */
export interface StubAgents extends ManagerAgents {
  planCalls: string[];
  auditCalls: AuditInput[];
}

export function stubAgents(behaviour: {
  plan?: (goal: string, signal: AbortSignal) => Promise<{ tasks: TaskSpec[]; planner: string }>;
  audit?: (input: AuditInput, signal: AbortSignal) => Promise<AuditReport>;
}): StubAgents {
  const agents: StubAgents = {
    planCalls: [],
    auditCalls: [],
    plan(goal, signal) {
      agents.planCalls.push(goal);
      if (!behaviour.plan) throw new AppError('AM_ERR_INTERNAL', 'no planner in this test');
      return behaviour.plan(goal, signal);
    },
    runAudit(input, signal) {
      agents.auditCalls.push(input);
      if (!behaviour.audit) return Promise.resolve(passed());
      return behaviour.audit(input, signal);
    },
  };
  return agents;
}

export function passed(summary = 'all good'): AuditReport {
  return { passed: true, score: 1, summary, findings: [], rework_suggestions: [], model: 'stub' };
}

export function failedNaming(taskIds: string[], summary = 'needs work'): AuditReport {
  return {
    passed: false,
    score: 0.3,
    summary,
    findings: taskIds.map((id) => `${id} is wrong`),
    rework_suggestions: taskIds.map((taskId) => ({ taskId, problem: 'wrong', suggestion: 'fix it' })),
    model: 'stub',
  };
}

/** Resolves when `signal` aborts: an LLM call that hangs until its manager gives up on it. */
export function hangUntilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Waits until `to` has projected everything `from` has: read-your-writes across two nodes. */
export async function caughtUp(from: AppContext, to: AppContext): Promise<void> {
  if (!(await to.projector.waitFor(from.projector.appliedSeq, 5_000)))
    throw new Error('node did not catch up');
}
