import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent } from '../../../src/events/index.ts';

const base = {
  id: '01890f2e-5b9a-7cc1-8d2a-0b7f6c3e9a11',
  graphId: '4f1c2b9e-8a7d-4c3b-9e2f-1a0b9c8d7e6f',
  taskId: 't1',
  at: '2026-01-01T00:00:00.000Z',
  actor: 'w1',
};

describe('decodeEvent', () => {
  describe('when a stored TaskAttemptFailed is version 1 (error was a plain string)', () => {
    it('upcasts it to version 2 with a retryable error object', () => {
      const v1 = JSON.stringify({
        ...base,
        type: 'TaskAttemptFailed',
        v: 1,
        data: { claimToken: '7', error: 'model timed out', history: [], retryAt: 1 },
      });
      const decoded = decodeEvent(v1);
      expect(decoded).toEqual({
        ok: true,
        event: {
          ...base,
          type: 'TaskAttemptFailed',
          v: 2,
          data: {
            claimToken: '7',
            error: { message: 'model timed out', retryable: true },
            history: [],
            retryAt: 1,
          },
        },
      });
    });
  });

  describe('when a stored TaskFailed is version 1 (who failed the task was only in the actor)', () => {
    const v1 = (actor: string) =>
      JSON.stringify({
        ...base,
        actor,
        type: 'TaskFailed',
        v: 1,
        data: {
          claimToken: '7',
          reason: 'attempts_exhausted',
          error: { message: 'x', retryable: true },
          history: [],
        },
      });

    it('reads a failure appended by the manager as decidedBy manager', () => {
      const decoded = decodeEvent(v1('system:manager'));
      expect(decoded.ok && decoded.event).toMatchObject({ v: 2, data: { decidedBy: 'manager' } });
    });

    it("reads a holder's own failure as decidedBy holder", () => {
      const decoded = decodeEvent(v1('w1'));
      expect(decoded.ok && decoded.event).toMatchObject({
        v: 2,
        data: { decidedBy: 'holder', claimToken: '7' },
      });
    });
  });

  describe('when the event is current', () => {
    it('round-trips through the wire encoding unchanged', () => {
      const event = {
        ...base,
        type: 'TaskClaimed' as const,
        v: 1 as const,
        data: { agentId: 'w1', requestId: 'r1', attempt: 1, cycle: 1, leaseUntil: 5 },
      };
      expect(decodeEvent(encodeEvent(event))).toEqual({ ok: true, event });
    });
  });

  describe('when the payload cannot be read', () => {
    it.each([
      ['not JSON', 'nope', /not JSON/],
      ['no type', '{"v":1}', /no event type/],
      ['an unknown type', '{"type":"Nope","v":1}', /unknown event type Nope/],
      [
        'a newer version',
        JSON.stringify({ ...base, type: 'TaskClaimed', v: 9, data: {} }),
        /newer than this build/,
      ],
      [
        'a missing field',
        JSON.stringify({ ...base, type: 'TaskClaimed', v: 1, data: { agentId: 'w1' } }),
        /invalid TaskClaimed/,
      ],
    ])('returns a reason for %s instead of throwing', (_name, payload, reason) => {
      const decoded = decodeEvent(payload);
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) expect(decoded.reason).toMatch(reason);
    });
  });
});
