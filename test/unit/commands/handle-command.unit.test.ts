import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/commands/decision.ts';
import { type CommandPorts, handleCommand } from '../../../src/commands/handle-command.ts';
import { AppError, StreamSequenceConflict } from '../../../src/errors.ts';
import { DomainEventSchema, type EventMetadata, Subjects } from '../../../src/events/index.ts';
import { GRAPH_ID, nextId, T0 } from './given.ts';

type AppendRequest = Parameters<CommandPorts['append']>[0];

/**
 * In-memory ports: one subject sequence that the "projection" (what `load` reads) trails until
 * waitFor is called, like a projector that has not yet applied the latest append.
 */
class FakePorts implements CommandPorts {
  readonly subjects = new Subjects('am.evt');
  readonly appended: AppendRequest[] = [];
  readonly waits: number[] = [];
  /** The stream's last sequence of the subject. */
  streamSeq = 0;
  /** What the local projection has applied. */
  projectedSeq = 0;
  time = T0;
  failWith: Error | null = null;

  async append(req: AppendRequest): Promise<{ seq: number; duplicate: boolean }> {
    if (this.failWith) throw this.failWith;
    if (req.expectedLastSubjectSeq !== null && req.expectedLastSubjectSeq !== this.streamSeq) {
      throw new StreamSequenceConflict(req.subject, req.expectedLastSubjectSeq, this.streamSeq);
    }
    this.appended.push(req);
    this.streamSeq += 1;
    return { seq: this.streamSeq, duplicate: false };
  }

  async waitFor(seq: number): Promise<boolean> {
    this.waits.push(seq);
    this.projectedSeq = Math.max(this.projectedSeq, seq);
    return true;
  }

  clock(): number {
    this.time += 1;
    return this.time;
  }

  newId(): string {
    return nextId();
  }
}

/** Decides a graph cancellation on whatever sequence the projection shows. */
function cancelOn(seq: number, _meta: EventMetadata): Decision {
  return {
    kind: 'append',
    to: { kind: 'graph', graphId: GRAPH_ID },
    expectedSeq: seq,
    msgId: `cancel:${GRAPH_ID}`,
    event: { type: 'GraphCancelled', graphId: GRAPH_ID, data: { reason: null } },
  };
}

describe('handleCommand', () => {
  describe('when the decision is accepted', () => {
    it('appends the stamped event with the expected sequence and msgId', async () => {
      const ports = new FakePorts();
      const outcome = await handleCommand(ports, {
        load: () => ports.projectedSeq,
        decide: cancelOn,
        actor: 'admin-1',
        correlationId: 'corr-1',
      });
      expect(outcome).toMatchObject({ seq: 1, duplicate: false, noop: false });
      expect(ports.appended).toHaveLength(1);
      const request = ports.appended[0]!;
      expect(request.subject).toBe(`am.evt.${GRAPH_ID}.graph`);
      expect(request.expectedLastSubjectSeq).toBe(0);
      expect(request.msgId).toBe(`cancel:${GRAPH_ID}`);
      expect(DomainEventSchema.parse(request.event)).toMatchObject({
        type: 'GraphCancelled',
        v: 1,
        graphId: GRAPH_ID,
        actor: 'admin-1',
        correlationId: 'corr-1',
        at: new Date(T0 + 1).toISOString(),
      });
      expect(outcome.event).toBe(request.event);
    });

    it('reports a duplicate ack as success', async () => {
      const ports = new FakePorts();
      ports.append = async () => ({ seq: 7, duplicate: true });
      const outcome = await handleCommand(ports, { load: () => 0, decide: cancelOn, actor: 'admin-1' });
      expect(outcome).toMatchObject({ seq: 7, duplicate: true, noop: false });
    });
  });

  describe('when the decision was made on a stale projection', () => {
    it('waits for the sequence the stream names, decides again on fresh state and appends', async () => {
      const ports = new FakePorts();
      ports.streamSeq = 4;
      ports.projectedSeq = 2;
      const seen: number[] = [];
      const outcome = await handleCommand(ports, {
        load: () => ports.projectedSeq,
        decide: (seq, meta) => {
          seen.push(seq);
          return cancelOn(seq, meta);
        },
        actor: 'admin-1',
      });
      expect(ports.waits).toEqual([4]);
      expect(seen).toEqual([2, 4]);
      expect(outcome).toMatchObject({ seq: 5, noop: false });
      expect(ports.appended[0]?.expectedLastSubjectSeq).toBe(4);
    });

    it('gives fresh metadata to every decision', async () => {
      const ports = new FakePorts();
      ports.streamSeq = 1;
      const times: number[] = [];
      await handleCommand(ports, {
        load: () => ports.projectedSeq,
        decide: (seq, meta) => {
          times.push(meta.now);
          return cancelOn(seq, meta);
        },
        actor: 'admin-1',
      });
      expect(times).toEqual([T0 + 1, T0 + 2]);
    });
  });

  describe('when every try conflicts', () => {
    it('gives up after maxTries with AM_ERR_CONFLICT naming the sequence', async () => {
      const ports = new FakePorts();
      ports.streamSeq = 9;
      ports.waitFor = async (seq) => {
        ports.waits.push(seq);
        return false; // the projection never catches up
      };
      let decisions = 0;
      const attempt = handleCommand(ports, {
        load: () => ports.projectedSeq,
        decide: (seq, meta) => {
          decisions += 1;
          return cancelOn(seq, meta);
        },
        actor: 'admin-1',
        maxTries: 3,
      });
      await expect(attempt).rejects.toMatchObject({ code: 'AM_ERR_CONFLICT', details: { seq: 9 } });
      expect(decisions).toBe(3);
      expect(ports.waits).toEqual([9, 9]);
      expect(ports.appended).toHaveLength(0);
    });

    it('tries three times by default', async () => {
      const ports = new FakePorts();
      ports.streamSeq = 1;
      ports.waitFor = async () => false;
      let decisions = 0;
      await expect(
        handleCommand(ports, {
          load: () => 0,
          decide: (seq, meta) => {
            decisions += 1;
            return cancelOn(seq, meta);
          },
          actor: 'admin-1',
        }),
      ).rejects.toBeInstanceOf(AppError);
      expect(decisions).toBe(3);
    });
  });

  describe('when the decider refuses', () => {
    it('throws its AppError without appending', async () => {
      const ports = new FakePorts();
      const refusal = new AppError('AM_ERR_STALE_CLAIM');
      await expect(
        handleCommand(ports, { load: () => 0, decide: () => refusal, actor: 'worker-1' }),
      ).rejects.toBe(refusal);
      expect(ports.appended).toHaveLength(0);
    });

    it('throws a refusal reached after a conflict', async () => {
      const ports = new FakePorts();
      ports.streamSeq = 3;
      await expect(
        handleCommand(ports, {
          load: () => ports.projectedSeq,
          decide: (seq, meta) => (seq === 0 ? cancelOn(seq, meta) : new AppError('AM_ERR_GRAPH_FINISHED')),
          actor: 'admin-1',
        }),
      ).rejects.toMatchObject({ code: 'AM_ERR_GRAPH_FINISHED' });
    });
  });

  describe('when the command was already applied', () => {
    it('answers the earlier sequence without appending', async () => {
      const ports = new FakePorts();
      const outcome = await handleCommand(ports, {
        load: () => 0,
        decide: () => ({ kind: 'noop', seq: 12 }),
        actor: 'worker-1',
      });
      expect(outcome).toEqual({ seq: 12, duplicate: false, noop: true, event: null });
      expect(ports.appended).toHaveLength(0);
    });
  });

  describe('when the store fails otherwise', () => {
    it('passes the error through without retrying', async () => {
      const ports = new FakePorts();
      const outage = new AppError('AM_ERR_STORE_UNAVAILABLE');
      ports.failWith = outage;
      let decisions = 0;
      await expect(
        handleCommand(ports, {
          load: () => 0,
          decide: (seq, meta) => {
            decisions += 1;
            return cancelOn(seq, meta);
          },
          actor: 'admin-1',
        }),
      ).rejects.toBe(outage);
      expect(decisions).toBe(1);
    });
  });
});
