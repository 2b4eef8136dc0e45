import type { CommandPorts } from '../commands/index.ts';
import { type CommandOutcome, type Decision, handleCommand } from '../commands/index.ts';
import { type AppError, isAppError } from '../errors.ts';
import type { EventMetadata, GraphState } from '../events/index.ts';
import type { Projector } from '../projections/index.ts';
import type { EventStore } from '../store/event-store.ts';
import { activeTraceparent } from './tracing.ts';

/** What the node's command path needs (AppContext has it all). */
export interface CommandNode {
  store: Pick<EventStore, 'getLastForSubject' | 'subjects'>;
  projector: Pick<Projector, 'graphState' | 'appliedSeq' | 'waitFor'>;
  ports: CommandPorts;
}

/** How long a command or read naming a graph this read model does not know yet waits for it. */
const UNPROJECTED_GRAPH_WAIT_MS = 5_000;

/**
 * For a graph this read model does not know: whether the stream has it after all (submitted a moment
 * ago, or through another server), in which case this waits until the read model has applied its last
 * graph event. Resolves false when the stream has no such graph, or the read model is not behind it.
 */
export async function awaitUnprojectedGraph(ctx: CommandNode, graphId: string): Promise<boolean> {
  const last = await ctx.store.getLastForSubject(ctx.store.subjects.graph(graphId)).catch(() => null);
  if (last === null || last.seq <= ctx.projector.appliedSeq) return false;
  return ctx.projector.waitFor(last.seq, UNPROJECTED_GRAPH_WAIT_MS);
}

/**
 * Decides on the graph aggregate the local projector holds and appends (handleCommand's loop). A graph
 * the read model does not know may still be in the stream: submitted a moment ago (a cancel right
 * after a submit), or through another server. Before answering AM_ERR_GRAPH_NOT_FOUND the stream is
 * asked for the graph's last event, and if the read model is behind it, the command waits and decides
 * again — so "not found" means not in the stream, not merely not projected here yet.
 */
export async function runGraphCommand(
  ctx: CommandNode,
  actor: string,
  graphId: string,
  decide: (state: GraphState | null, metadata: EventMetadata) => Decision | AppError,
  opts: { maxTries?: number } = {},
): Promise<CommandOutcome> {
  // Undefined whenever tracing is off (no span is ever active): nothing is added to the events.
  const traceparent = activeTraceparent();
  const run = () =>
    handleCommand(ctx.ports, {
      actor,
      traceparent,
      load: () => ctx.projector.graphState(graphId),
      decide,
      ...(opts.maxTries === undefined ? {} : { maxTries: opts.maxTries }),
    });
  try {
    return await run();
  } catch (error) {
    if (!isAppError(error) || error.code !== 'AM_ERR_GRAPH_NOT_FOUND') throw error;
    if (!(await awaitUnprojectedGraph(ctx, graphId))) throw error;
    return run();
  }
}
