import { describe, expect, it } from 'vitest';
import { ClaimTaskSchema } from '../../../src/commands/claim-task.ts';
import { parseCommand } from '../../../src/commands/command.ts';
import { CommandSchema } from '../../../src/commands/commands.ts';
import { RETRY_MAX_DELAY_MS, retryDelayMs } from '../../../src/commands/retry-delay.ts';
import { AppError } from '../../../src/errors.ts';
import { GRAPH_ID, meta } from './given.ts';

describe('retryDelayMs', () => {
  it('doubles from one second per attempt without a seed', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n))).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it('is capped at one minute', () => {
    expect(retryDelayMs(7)).toBe(RETRY_MAX_DELAY_MS);
    expect(retryDelayMs(1_000)).toBe(RETRY_MAX_DELAY_MS);
  });

  it('takes off a deterministic jitter of at most 10 % derived from the seed', () => {
    for (const attempt of [1, 3, 10]) {
      const base = retryDelayMs(attempt);
      const jittered = retryDelayMs(attempt, '42');
      expect(jittered).toBe(retryDelayMs(attempt, '42'));
      expect(jittered).toBeLessThanOrEqual(base);
      expect(jittered).toBeGreaterThanOrEqual(base * 0.9);
    }
    expect(retryDelayMs(5, '41')).not.toBe(retryDelayMs(5, '42'));
  });
});

describe('parseCommand', () => {
  const raw = {
    type: 'ClaimTask',
    data: { graphId: GRAPH_ID, taskId: 'A', agentId: 'worker-1', requestId: 'r1' },
    metadata: meta(),
  };

  it('returns a command that matches its schema', () => {
    expect(parseCommand(ClaimTaskSchema, raw)).toMatchObject({ type: 'ClaimTask', data: { taskId: 'A' } });
  });

  it('parses any command through the union', () => {
    expect(parseCommand(CommandSchema, raw)).toMatchObject({ type: 'ClaimTask' });
  });

  it('rejects a bad field with AM_ERR_VALIDATION naming it', () => {
    const outcome = parseCommand(ClaimTaskSchema, { ...raw, data: { ...raw.data, taskId: 'a.b' } });
    expect(outcome).toBeInstanceOf(AppError);
    expect((outcome as AppError).code).toBe('AM_ERR_VALIDATION');
    expect((outcome as AppError).details).toMatchObject({ field: 'data.taskId' });
  });

  it('rejects metadata without an id source with AM_ERR_VALIDATION', () => {
    const outcome = parseCommand(ClaimTaskSchema, { ...raw, metadata: { now: 1, actor: 'x' } });
    expect((outcome as AppError).code).toBe('AM_ERR_VALIDATION');
  });
});
