import type { Logger } from 'pino';
import type { AppContext } from '../node/app-context.ts';
import type { AppliedBatch } from '../projections/index.ts';
import { Auditor } from './auditor.ts';
import { CycleCompletion } from './cycle-completion.ts';
import { LeaseReaper } from './lease-reaper.ts';
import type { ManagerAgents } from './manager-agents.ts';
import { ManagerRuntime } from './manager-runtime.ts';
import type { MarkerSettings } from './marker-call.ts';
import { Planner } from './planner.ts';
import type { GraphReconciler } from './reconciler.ts';
import { RevokedClaims } from './revoked-claims.ts';
import { SynthesisCompletion } from './synthesis-completion.ts';
import { TaskFailure } from './task-failure.ts';

export interface ManagerOptions {
  /** The AppNode this manager runs on: its projector wakes the reconcilers, its ports append. */
  ctx: AppContext;
  /** The planner and auditor (src/agents, or a stub in tests). */
  agents: ManagerAgents;
  /** Level-triggered sweep over the read model, the safety net under the edge triggers. Default 1000 ms. */
  intervalMs?: number;
  /**
   * Lease of a PlanningStarted/AuditStarted marker; renewed every third of it while the LLM call runs,
   * taken over by another manager once it lapses (its manager is gone). Default 30000 ms.
   */
  markerMs?: number;
  /** Markers (LLM attempts) per planning run or audit cycle before the graph fails. Default 3. */
  maxMarkerAttempts?: number;
  /** Backoff after a failed LLM attempt, doubling per attempt (capped at markerMs/2). Default 1000 ms. */
  llmRetryBaseMs?: number;
  /** One planning or audit call is abandoned after this long and counts as failed. Default 300000 ms. */
  llmTimeoutMs?: number;
  /**
   * After the manager starts, a claim whose lease ends within this window is taken back only one lease
   * later (workers could not heartbeat while AM was down). Default: the longest leaseMs among the claims
   * held at start (0 when none are).
   */
  graceMs?: number;
  /** Default: `ctx.log`. */
  log?: Logger;
}

export interface Manager {
  /** Stops reconciling, aborts LLM calls in flight (their markers lapse) and waits for all work. Idempotent. */
  stop(): Promise<void>;
  /**
   * Resolves once the wakes queued so far have been reconciled and no work they started is in flight:
   * what the manager will do about the read model as it stands has been done (tests on a fake clock
   * assert "nothing happened" after it, instead of sleeping).
   */
  idle(): Promise<void>;
}

/**
 * Starts the manager's reconcilers on one AppNode. Like Kubernetes controllers they are woken at once by
 * newly projected events (edge) and run over the read model at start and every `intervalMs` (level).
 * Every action is an expected-sequence append through the deciders, so running it twice, on two nodes or
 * after a crash is harmless; slow LLM work runs off the projector's path, one per graph.
 */
export function startManager(opts: ManagerOptions): Manager {
  const { ctx } = opts;
  const log = (opts.log ?? ctx.log).child({ component: 'manager' });
  const pending = new Set<string>();
  let flushing: NodeJS.Immediate | null = null;

  const rt = new ManagerRuntime(ctx, log, (graphId) => wake(graphId));
  const markers: MarkerSettings = {
    markerMs: opts.markerMs ?? 30_000,
    maxAttempts: opts.maxMarkerAttempts ?? 3,
    retryBaseMs: opts.llmRetryBaseMs ?? 1_000,
    callTimeoutMs: opts.llmTimeoutMs ?? 300_000,
  };
  const revokedClaims = new RevokedClaims(rt);
  const reconcilers: GraphReconciler[] = [
    new Planner(rt, opts.agents, markers),
    new CycleCompletion(rt),
    new TaskFailure(rt),
    new Auditor(rt, opts.agents, markers),
    new SynthesisCompletion(rt),
    revokedClaims,
  ];
  const reaper = new LeaseReaper(rt, opts.graceMs);

  function reconcile(reconciler: GraphReconciler, graphId: string): void {
    const graph = ctx.projector.graphState(graphId);
    if (!graph) return;
    try {
      reconciler.reconcile(graph);
    } catch (error) {
      log.error({ err: error, graphId, reconciler: reconciler.name }, 'reconcile failed');
    }
  }

  /** Edge: graphs touched by a batch are reconciled soon after, off the projector's own call stack. */
  function wake(graphId: string): void {
    if (rt.stopped) return;
    pending.add(graphId);
    flushing ??= setImmediate(flush);
  }

  function flush(): void {
    flushing = null;
    const graphIds = [...pending];
    pending.clear();
    // A node that is behind acts on nothing; the level sweep covers these graphs once it is ready.
    if (!ctx.readiness.ready) return;
    for (const graphId of graphIds) {
      for (const reconciler of reconcilers) {
        if (rt.stopped) return;
        reconcile(reconciler, graphId);
      }
    }
  }

  /** Level: each reconciler asks the read model which graphs may need it. */
  function sweep(): void {
    if (rt.stopped || !ctx.readiness.ready) return;
    for (const reconciler of reconcilers) {
      try {
        for (const graphId of reconciler.candidates()) reconcile(reconciler, graphId);
      } catch (error) {
        log.error({ err: error, reconciler: reconciler.name }, 'sweep failed');
      }
    }
    try {
      reaper.sweep();
    } catch (error) {
      log.error({ err: error }, 'lease sweep failed');
    }
  }

  const unsubscribe = ctx.projector.onApplied((batch: AppliedBatch) => {
    for (const graphId of batch.graphs) wake(graphId);
    reaper.onBatch(batch);
    // A revocation touches no graph, but the graphs where the agent holds claims need the manager now.
    if (batch.events.some(({ event }) => event.type === 'AgentRevoked')) {
      for (const graphId of revokedClaims.candidates()) wake(graphId);
    }
  });
  const first = setImmediate(sweep);
  const interval = rt.clock.setInterval(sweep, opts.intervalMs ?? 1_000);
  log.info({ intervalMs: opts.intervalMs ?? 1_000, graceMs: reaper.graceMs, ...markers }, 'manager started');

  let stopping: Promise<void> | null = null;
  return {
    async idle() {
      // A reconcile can start work whose end wakes its graph again: settle until nothing is left.
      for (;;) {
        await new Promise((resolve) => setImmediate(resolve));
        if (flushing === null && pending.size === 0 && rt.busy === 0) return;
        await rt.idle();
      }
    },
    stop() {
      stopping ??= (async () => {
        unsubscribe();
        clearImmediate(first);
        interval.cancel();
        if (flushing) clearImmediate(flushing);
        reaper.stop();
        await rt.stop();
        log.info('manager stopped');
      })();
      return stopping;
    },
  };
}
