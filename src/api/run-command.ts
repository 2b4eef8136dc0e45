import { type CommandOutcome, type Decision, type GraphState, handleCommand } from '../commands/index.ts';
import { type AppError, isAppError } from '../errors.ts';
import type { EventMetadata } from '../events/index.ts';
import type { AppContext } from './app-context.ts';

/** How long a command naming a graph this read model does not know yet waits for it. */
const UNPROJECTED_GRAPH_WAIT_MS = 5_000;

/**
 * Decides on the graph aggregate the local projector holds and appends (handleCommand's loop). A graph
 * the read model does not know may still be in the stream: submitted a moment ago (a cancel right
 * after a submit), or through another server. Before answering AM_ERR_GRAPH_NOT_FOUND the stream is
 * asked for the graph's last event, and if the read model is behind it, the command waits and decides
 * again — so "not found" means not in the stream, not merely not projected here yet.
 */
export async function runGraphCommand(
  ctx: AppContext,
  actor: string,
  graphId: string,
  decide: (state: GraphState | null, metadata: EventMetadata) => Decision | AppError,
  opts: { maxTries?: number } = {},
): Promise<CommandOutcome> {
  const run = () =>
    handleCommand(ctx.ports, {
      actor,
      load: () => ctx.projector.graphState(graphId),
      decide,
      ...(opts.maxTries === undefined ? {} : { maxTries: opts.maxTries }),
    });
  try {
    return await run();
  } catch (error) {
    if (!isAppError(error) || error.code !== 'AM_ERR_GRAPH_NOT_FOUND') throw error;
    const last = await ctx.store.getLastForSubject(ctx.store.subjects.graph(graphId)).catch(() => null);
    if (last === null || last.seq <= ctx.projector.appliedSeq) throw error;
    await ctx.projector.waitFor(last.seq, UNPROJECTED_GRAPH_WAIT_MS);
    return run();
  }
}
