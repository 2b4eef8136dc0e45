import type { Logger } from 'pino';
import { type CommandOutcome, type Decision, handleCommand } from '../commands/index.ts';
import { AppError, type ErrorCode, isAppError } from '../errors.ts';
import type { EventMetadata, GraphState } from '../events/index.ts';
import type { AppContext } from '../node/app-context.ts';
import type { Clock } from '../node/clock.ts';

/** The actor of every event the manager appends. */
export const MANAGER_ACTOR = 'system:manager';

/**
 * Refusals that mean someone else got there first (another manager, a heartbeat, a result, a cancel):
 * the normal outcome of reconciling on a read model that may be a few events behind.
 */
const LOST_RACE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'AM_ERR_GRAPH_STATE',
  'AM_ERR_CONFLICT',
  'AM_ERR_STALE_CLAIM',
  'AM_ERR_GRAPH_CANCELLED',
  'AM_ERR_GRAPH_FINISHED',
]);

/** How long a command waits for the local projection to apply its own append (ms). */
const OWN_APPEND_WAIT_MS = 5_000;

export type GraphDecide = (state: GraphState | null, metadata: EventMetadata) => Decision | AppError;

interface Work {
  controller: AbortController;
  /** Asked for again while running: the graph is reconciled once more when this run ends. */
  again: boolean;
  done: Promise<void>;
}

/**
 * What every reconciler shares: the app context, the clock, keyed work in flight (so a reconcile pass
 * never starts the same action twice and stop() can wait for all of it), and the manager's command path.
 */
export class ManagerRuntime {
  private readonly stopController = new AbortController();
  private readonly work = new Map<string, Work>();

  constructor(
    readonly ctx: AppContext,
    readonly log: Logger,
    private readonly wake: (graphId: string) => void,
  ) {}

  /** Aborted when the manager stops. */
  get signal(): AbortSignal {
    return this.stopController.signal;
  }

  get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  /** The clock deciders see (the command ports'), so the manager's "due" agrees with theirs. */
  now(): number {
    return this.ctx.ports.clock();
  }

  /** The node's timers (a fake clock in tests). */
  get clock(): Clock {
    return this.ctx.clock;
  }

  /** Work in flight. */
  get busy(): number {
    return this.work.size;
  }

  /** Resolves once no work is in flight (tests: "nothing more will happen" without sleeping). */
  async idle(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work.values()].map((w) => w.done));
  }

  isRunning(key: string): boolean {
    return this.work.has(key);
  }

  /**
   * Starts `fn` under `key` unless work under that key is running. A request that arrives meanwhile is
   * not dropped: `graphId` is reconciled again when the running work ends.
   */
  run(key: string, graphId: string, fn: (signal: AbortSignal) => Promise<void>): void {
    if (this.stopped) return;
    const running = this.work.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const controller = new AbortController();
    const signal = AbortSignal.any([this.stopController.signal, controller.signal]);
    const entry: Work = { controller, again: false, done: Promise.resolve() };
    this.work.set(key, entry);
    entry.done = (async () => {
      try {
        await fn(signal);
      } catch (error) {
        if (!signal.aborted) this.log.error({ err: error, graphId, work: key }, 'manager work failed');
      } finally {
        this.work.delete(key);
        if (entry.again && !this.stopped) this.wake(graphId);
      }
    })();
  }

  /** Aborts the work under `key` (the graph moved on: an LLM call for it is no longer worth paying for). */
  cancel(key: string, reason: string): void {
    this.work.get(key)?.controller.abort(new AppError('AM_ERR_LLM_ABORTED', reason));
  }

  /**
   * Decides on the local projection's graph aggregate and appends as the manager (handleCommand's
   * expected-sequence loop), then waits until the projection has applied the append, so the next
   * decision sees it. Refusals are returned, not thrown: most are lost races.
   */
  async command(graphId: string, decide: GraphDecide): Promise<CommandOutcome | AppError> {
    try {
      const outcome = await handleCommand(this.ctx.ports, {
        actor: MANAGER_ACTOR,
        load: () => this.ctx.projector.graphState(graphId),
        decide,
      });
      await this.ctx.projector.waitFor(outcome.seq, OWN_APPEND_WAIT_MS);
      return outcome;
    } catch (error) {
      if (isAppError(error)) return error;
      const message = error instanceof Error ? error.message : String(error);
      return new AppError('AM_ERR_INTERNAL', message, { cause: error });
    }
  }

  /** Logs a refusal: a lost race at debug, anything else at warn. */
  refused(error: AppError, fields: Record<string, unknown>, what: string): void {
    const entry = { ...fields, code: error.code, detail: error.message, refusal: error.details?.refusal };
    if (LOST_RACE.has(error.code)) this.log.debug(entry, `${what} refused`);
    else this.log.warn(entry, `${what} refused`);
  }

  /** Aborts everything in flight and waits for it to end. */
  async stop(): Promise<void> {
    this.stopController.abort(new AppError('AM_ERR_LLM_ABORTED', 'the manager is stopping'));
    while (this.work.size > 0) await Promise.allSettled([...this.work.values()].map((w) => w.done));
  }
}
