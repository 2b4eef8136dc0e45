import { type CommandOutcome, type Decision, type GraphState, handleCommand } from '../commands/index.ts';
import type { AppError } from '../errors.ts';
import type { EventMetadata } from '../events/index.ts';
import type { AppContext } from './app-context.ts';

/** Decides on the graph aggregate the local projector holds and appends (handleCommand's loop). */
export function runGraphCommand(
  ctx: AppContext,
  actor: string,
  graphId: string,
  decide: (state: GraphState | null, metadata: EventMetadata) => Decision | AppError,
  opts: { maxTries?: number } = {},
): Promise<CommandOutcome> {
  return handleCommand(ctx.ports, {
    actor,
    load: () => ctx.projector.graphState(graphId),
    decide,
    ...(opts.maxTries === undefined ? {} : { maxTries: opts.maxTries }),
  });
}
