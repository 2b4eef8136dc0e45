import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CommandPorts,
  decideClaimTask,
  decidePlanTask,
  decideSubmitResult,
  handleCommand,
} from '../../../src/commands/index.ts';
import { isAppError } from '../../../src/errors.ts';
import type { GraphState } from '../../../src/events/index.ts';
import { Projector, ReadModel } from '../../../src/projections/index.ts';
import { connectNats } from '../../../src/store/connect.ts';
import { EventStore } from '../../../src/store/event-store.ts';
import { injectDuplicateClaim, injectStaleCompletion } from '../../kit/duplicate-appends.ts';
import { makeTempDir, startTestNats, type TestNats } from '../../kit/index.ts';

/**
 * Fencing when the stream's compare-and-set fails to refuse an append (nats-server before 2.10.19 on
 * replicated streams): a second TaskClaimed for a claimed task, and a TaskCompleted from that losing
 * claim, both land in the stream. The fold keeps the first claim and the winner's result only.
 */
describe('duplicate appends a broken expected-sequence check would let through', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let store: EventStore;
  let readModel: ReadModel;
  let projector: Projector;
  let ports: CommandPorts;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectNats({ servers: nats.url });
    store = await EventStore.open(nc, nats.settings);
    readModel = ReadModel.open(join(makeTempDir('am-duplicate-appends'), 'read-model.sqlite'));
    projector = new Projector({ readModel, source: store, subjects: store.subjects });
    projector.start();
    ports = {
      append: (req) => store.append(req),
      subjects: store.subjects,
      waitFor: (seq, timeoutMs) => projector.waitFor(seq, timeoutMs),
      clock: () => Date.now(),
      newId: () => uuidv7(),
    };
  });

  afterAll(async () => {
    await projector?.stop();
    readModel?.close();
    await nc?.drain();
    await nats?.cleanup();
  });

  const run = (
    actor: string,
    graphId: string,
    decide: Parameters<typeof handleCommand<GraphState | null>>[1]['decide'],
  ) => handleCommand<GraphState | null>(ports, { actor, load: () => projector.graphState(graphId), decide });

  const submit = (agentId: string, graphId: string, claimToken: string, output: string) =>
    run(agentId, graphId, (state, metadata) =>
      decideSubmitResult(
        {
          type: 'SubmitResult',
          data: {
            graphId,
            taskId: 'only',
            agentId,
            claimToken,
            status: 'completed',
            result: { output, history: [{ thought: 'done', action: { type: 'final', answer: output } }] },
          },
          metadata,
        },
        state,
      ),
    );

  it('keeps the first claim and one accepted completion; the loser is refused and its result void', async () => {
    const graphId = uuidv4();
    const planned = await run('admin', graphId, (state, metadata) =>
      decidePlanTask(
        {
          type: 'PlanTask',
          data: { graphId, goal: 'fence me', tasks: [{ id: 'only', title: 'Only', instructions: 'win me' }] },
          metadata,
        },
        state,
      ),
    );
    await projector.waitFor(planned.seq, 5_000);
    const won = await run('agent-a', graphId, (state, metadata) =>
      decideClaimTask(
        {
          type: 'ClaimTask',
          data: { graphId, taskId: 'only', agentId: 'agent-a', requestId: 'r-a' },
          metadata,
        },
        state,
      ),
    );
    const winnerToken = String(won.seq);

    // The duplicate claim, as if its expected-sequence check had passed, in the same cycle.
    const loserSeq = await injectDuplicateClaim(store, { graphId, taskId: 'only', agentId: 'agent-b' });
    const loserToken = String(loserSeq);
    expect(loserSeq).toBeGreaterThan(won.seq);
    await projector.waitFor(loserSeq, 5_000);
    expect(projector.graphState(graphId)?.tasks.get('only')?.claim).toMatchObject({
      token: winnerToken,
      agentId: 'agent-a',
    });

    // Through the command path, the loser's result is refused as stale.
    const refused = await submit('agent-b', graphId, loserToken, 'loser output').catch(
      (error: unknown) => error,
    );
    expect(isAppError(refused) ? refused.code : refused).toBe('AM_ERR_STALE_CLAIM');

    // Its TaskCompleted appended anyway (the broken check again) changes nothing.
    const staleSeq = await injectStaleCompletion(store, {
      graphId,
      taskId: 'only',
      agentId: 'agent-b',
      claimToken: loserToken,
      output: 'loser output',
    });
    await projector.waitFor(staleSeq, 5_000);
    expect(projector.graphState(graphId)?.tasks.get('only')).toMatchObject({
      status: 'CLAIMED',
      claim: { token: winnerToken, agentId: 'agent-a' },
    });

    // The winner's result is accepted, and is the one the read model shows.
    const accepted = await submit('agent-a', graphId, winnerToken, 'winner output');
    await projector.waitFor(accepted.seq, 5_000);
    const task = readModel.taskGraph(graphId)?.tasks.find((t) => t.id === 'only');
    expect(task?.status).toBe('COMPLETED');
    expect(task?.result).toMatchObject({ output: 'winner output', agentId: 'agent-a', seq: accepted.seq });

    // A second stale completion after the winner's: still void (no second accepted completion).
    const lateSeq = await injectStaleCompletion(store, {
      graphId,
      taskId: 'only',
      agentId: 'agent-b',
      claimToken: loserToken,
      output: 'late loser output',
    });
    await projector.waitFor(lateSeq, 5_000);
    expect(readModel.taskGraph(graphId)?.tasks.find((t) => t.id === 'only')?.result).toMatchObject({
      output: 'winner output',
    });
    expect(projector.graphState(graphId)?.tasks.get('only')?.lastResult?.token).toBe(winnerToken);

    // The fold recorded each injected append as void by rule.
    const skipped = readModel.skipped
      .all()
      .filter((row) => [loserSeq, staleSeq, lateSeq].includes(row.seq))
      .map((row) => [row.seq, row.type, row.reason]);
    expect(skipped).toEqual([
      [loserSeq, 'TaskClaimed', 'void_claim'],
      [staleSeq, 'TaskCompleted', 'stale_claim'],
      [lateSeq, 'TaskCompleted', 'stale_claim'],
    ]);
  });
});
