import { describe, expect, it } from 'vitest';
import { encodeEvent, Subjects } from '../../../src/events/index.ts';
import {
  type AppliedBatch,
  type FeedSource,
  Projector,
  type RawStoredMessage,
  ReadModel,
  ReadyIndex,
} from '../../../src/projections/index.ts';
import { TrailBuilder, type TrailEntry } from '../../fixtures/trail-builder.ts';

const subjects = new Subjects('am.evt');
const GRAPH = '4f1c2b9e-8a7d-4c3b-9e2f-1a0b9c8d7e6f';

/** A stream held in memory: consumeBatches hands out what was appended, then waits for more. */
class MemoryFeed implements FeedSource {
  readonly messages: RawStoredMessage[] = [];
  #wake: (() => void) | null = null;

  append(entries: readonly TrailEntry[]): void {
    for (const entry of entries) this.appendRaw(entry.subject, encodeEvent(entry.event));
  }

  appendRaw(subject: string, data: Uint8Array): void {
    this.messages.push({ seq: this.messages.length + 1, subject, data, pending: 0 });
    this.#wake?.();
  }

  async *consumeBatches(
    fromSeq: number,
    opts: { signal?: AbortSignal } = {},
  ): AsyncIterable<RawStoredMessage[]> {
    let next = fromSeq;
    const onAbort = () => this.#wake?.();
    opts.signal?.addEventListener('abort', onAbort);
    try {
      while (!opts.signal?.aborted) {
        const batch = this.messages.slice(next - 1);
        if (batch.length > 0) {
          next += batch.length;
          yield batch;
          continue;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async lastSeq(): Promise<number> {
    return this.messages.length;
  }
}

/** A projector over an in-memory feed and an in-memory SQLite read model (no nats-server). */
function projecting() {
  const feed = new MemoryFeed();
  const readModel = ReadModel.open(':memory:');
  const readyIndex = new ReadyIndex();
  const batches: AppliedBatch[] = [];
  const projector = new Projector({ readModel, source: feed, subjects, readyIndex, commitIntervalMs: 0 });
  projector.onApplied((batch) => batches.push(batch));
  projector.start();
  return {
    feed,
    readModel,
    readyIndex,
    projector,
    batches,
    /** Appends and waits until the projector has applied everything. */
    async when(entries: readonly TrailEntry[]) {
      feed.append(entries);
      expect(await projector.waitFor(feed.messages.length, 2_000)).toBe(true);
    },
    async close() {
      await projector.stop();
      readModel.close();
    },
  };
}

describe('Projector over an in-memory feed', () => {
  describe('given a graph of two tasks where b depends on a', () => {
    const trail = () => {
      const b = new TrailBuilder(subjects, GRAPH);
      b.submit('two steps', [
        { id: 'a', title: 'A', instructions: 'first' },
        { id: 'b', title: 'B', instructions: 'second', dependsOn: ['a'] },
      ]);
      return b;
    };

    it('when it is submitted: writes the graph and its tasks, a READY and b PENDING', async () => {
      const p = projecting();
      try {
        await p.when(trail().entries);
        const graph = p.readModel.taskGraph(GRAPH);
        expect(graph?.graph.status).toBe('RUNNING');
        expect(graph?.tasks.map((t) => [t.id, t.status])).toEqual([
          ['a', 'READY'],
          ['b', 'PENDING'],
          ['_synthesis', 'PENDING'],
        ]);
        expect(p.readyIndex.has(GRAPH, 'a')).toBe(true);
        expect(p.readModel.checkpoint.read()).toBe(1);
      } finally {
        await p.close();
      }
    });

    it('when a is claimed and completed: records the result, makes b READY, and tells listeners', async () => {
      const p = projecting();
      try {
        const b = trail();
        const token = b.run('a', 'w1', 'done a');
        await p.when(b.entries);
        const graph = p.readModel.taskGraph(GRAPH);
        expect(graph?.tasks.find((t) => t.id === 'a')).toMatchObject({
          status: 'COMPLETED',
          result: { output: 'done a', agentId: 'w1' },
        });
        expect(graph?.tasks.find((t) => t.id === 'b')?.status).toBe('READY');
        expect(p.readyIndex.has(GRAPH, 'a')).toBe(false);
        expect(p.readyIndex.has(GRAPH, 'b')).toBe(true);
        expect(p.projector.claims.byToken(token)).toBeUndefined();
        const types = p.batches.flatMap((batch) => batch.events.map((e) => e.event.type));
        expect(types).toEqual(['GraphSubmitted', 'TaskClaimed', 'TaskCompleted']);
      } finally {
        await p.close();
      }
    });

    it('when a second claim of a held task arrives: voids it by rule and keeps the first holder', async () => {
      const p = projecting();
      try {
        const b = trail();
        const first = b.claim('a', 'w1');
        b.claim('a', 'w2');
        await p.when(b.entries);
        expect(p.projector.graphState(GRAPH)?.tasks.get('a')?.claim).toMatchObject({
          token: first,
          agentId: 'w1',
        });
        expect(p.readModel.skipped.all().map((s) => s.reason)).toEqual(['void_claim']);
      } finally {
        await p.close();
      }
    });
  });

  describe('when a message cannot be read', () => {
    it('records it as skipped and still advances the checkpoint', async () => {
      const p = projecting();
      try {
        p.feed.appendRaw(subjects.graph(GRAPH), new TextEncoder().encode('{"not":"an event"'));
        expect(await p.projector.waitFor(1, 2_000)).toBe(true);
        expect(p.readModel.skipped.all()).toHaveLength(1);
        expect(p.readModel.checkpoint.read()).toBe(1);
      } finally {
        await p.close();
      }
    });
  });
});
