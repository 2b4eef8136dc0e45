import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CommandPorts,
  decideClaimTask,
  decidePlanTask,
  handleCommand,
} from '../../../src/commands/index.ts';
import { isAppError } from '../../../src/errors.ts';
import { Projector, ReadModel } from '../../../src/projections/index.ts';
import { connectNats } from '../../../src/store/connect.ts';
import { EventStore } from '../../../src/store/event-store.ts';
import { makeTempDir, startTestNats, type TestNats } from '../../kit/index.ts';

/** One AM process's write path: its own read model and projector over the shared stream. */
interface Node {
  projector: Projector;
  readModel: ReadModel;
  ports: CommandPorts;
}

describe('Atomic claims over a real nats-server', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let store: EventStore;
  let dir: string;
  const nodes: Node[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectNats({ servers: nats.url });
    store = await EventStore.open(nc, nats.settings);
    dir = makeTempDir('am-claim-race');
    for (let i = 0; i < 2; i++) {
      const readModel = ReadModel.open(join(dir, `node-${i}.sqlite`));
      const projector = new Projector({ readModel, source: store, subjects: store.subjects });
      projector.start();
      nodes.push({
        projector,
        readModel,
        ports: {
          append: (req) => store.append(req),
          subjects: store.subjects,
          waitFor: (seq, timeoutMs) => projector.waitFor(seq, timeoutMs),
          clock: () => Date.now(),
          newId: () => uuidv7(),
        },
      });
    }
  });

  afterAll(async () => {
    for (const node of nodes) {
      await node.projector.stop();
      node.readModel.close();
    }
    await nc?.drain();
    await nats?.cleanup();
  });

  async function submitOneTaskGraph(): Promise<{ graphId: string; seq: number }> {
    const graphId = uuidv4();
    const node = nodes[0]!;
    const outcome = await handleCommand(node.ports, {
      actor: 'admin',
      load: () => node.projector.graphState(graphId),
      decide: (state, metadata) =>
        decidePlanTask(
          {
            type: 'PlanTask',
            data: { graphId, goal: 'race', tasks: [{ id: 'only', title: 'Only', instructions: 'win me' }] },
            metadata,
          },
          state,
        ),
    });
    for (const n of nodes) expect(await n.projector.waitFor(outcome.seq, 5_000)).toBe(true);
    return { graphId, seq: outcome.seq };
  }

  function claim(node: Node, graphId: string, agentId: string, requestId: string) {
    return handleCommand(node.ports, {
      actor: agentId,
      load: () => node.projector.graphState(graphId),
      decide: (state, metadata) =>
        decideClaimTask(
          { type: 'ClaimTask', data: { graphId, taskId: 'only', agentId, requestId }, metadata },
          state,
        ),
    });
  }

  async function claimedEvents(graphId: string) {
    const trail = await store.readTrail(graphId);
    return trail.filter((entry) => 'event' in entry && entry.event.type === 'TaskClaimed');
  }

  describe('when 50 claimers on two nodes race for one READY task', () => {
    it('accepts exactly one TaskClaimed and refuses every other claimer', async () => {
      const { graphId } = await submitOneTaskGraph();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => claim(nodes[i % 2]!, graphId, `agent-${i}`, `req-${i}`)),
      );
      const winners = outcomes.filter((o) => o.status === 'fulfilled');
      const codes = outcomes.flatMap((o) =>
        o.status === 'rejected' && isAppError(o.reason) ? [o.reason.code] : [],
      );
      expect(winners).toHaveLength(1);
      expect(codes).toHaveLength(49);
      expect(new Set(codes)).toEqual(
        new Set(codes.filter((c) => c === 'AM_ERR_TASK_NOT_READY' || c === 'AM_ERR_CONFLICT')),
      );
      expect(await claimedEvents(graphId)).toHaveLength(1);
    });
  });

  describe('when every racer uses the same msgID scheme and even the same requestId value', () => {
    it('never gives two racers the same token: msgIDs are per agent and request', async () => {
      const { graphId } = await submitOneTaskGraph();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => claim(nodes[i % 2]!, graphId, `agent-${i}`, 'request-1')),
      );
      const tokens = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.seq] : []));
      expect(tokens).toHaveLength(1);
      const trail = await claimedEvents(graphId);
      expect(trail).toHaveLength(1);
      expect(trail[0]?.seq).toBe(tokens[0]);
      const holder = nodes[0]!.projector.graphState(graphId)?.tasks.get('only')?.claim;
      expect(holder?.token).toBe(String(tokens[0]));
    });
  });

  describe('when a claim request is retried with its own msgID', () => {
    it('appends nothing and returns the first sequence, before and after the projection saw it', async () => {
      const { graphId } = await submitOneTaskGraph();
      const node = nodes[0]!;
      // Retry at once, concurrently: the projection has not applied the first yet, so JetStream's msgID
      // check answers the repeat as a duplicate of the first append.
      const [first, retry] = await Promise.all([
        claim(node, graphId, 'agent-a', 'req-a'),
        claim(node, graphId, 'agent-a', 'req-a'),
      ]);
      const lastSeq = await store.lastSeq();
      expect(retry.seq).toBe(first.seq);
      expect(first.duplicate || retry.duplicate).toBe(true);
      // Retry again once the projection has it: the decider recognises its own claim (no append).
      await node.projector.waitFor(first.seq, 5_000);
      const late = await claim(node, graphId, 'agent-a', 'req-a');
      expect(late).toMatchObject({ seq: first.seq, noop: true });
      expect(await store.lastSeq()).toBe(lastSeq);
      expect(await claimedEvents(graphId)).toHaveLength(1);
    });
  });
});
