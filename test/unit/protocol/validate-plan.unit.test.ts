import { describe, expect, it } from 'vitest';
import { describePlanProblem, LIMITS, type TaskSpec, validatePlan } from '../../../src/protocol/index.ts';

const t = (id: string, dependsOn?: string[]): TaskSpec => ({ id, title: id, instructions: id, dependsOn });

describe('validatePlan', () => {
  it('accepts a diamond', () => {
    expect(validatePlan([t('a'), t('b', ['a']), t('c', ['a']), t('d', ['b', 'c'])])).toEqual([]);
  });

  it('finds a cycle and names its path', () => {
    const problems = validatePlan([t('a', ['c']), t('b', ['a']), t('c', ['b'])]);
    const cycle = problems.find((p) => p.kind === 'cycle');
    expect(cycle).toBeDefined();
    expect(describePlanProblem(cycle!)).toMatch(/dependency cycle: (a|b|c) -> .* -> (a|b|c)/);
  });

  it('reports unknown and self dependencies and duplicate ids', () => {
    const kinds = validatePlan([t('a', ['zzz']), t('b', ['b']), t('a')]).map((p) => p.kind);
    expect(kinds).toEqual(expect.arrayContaining(['unknown_dependency', 'self_dependency', 'duplicate_id']));
  });

  it('bounds the size', () => {
    const many = Array.from({ length: LIMITS.maxTasksPerGraph + 1 }, (_, i) => t(`t${i}`));
    expect(validatePlan(many).map((p) => p.kind)).toContain('too_large');
    expect(validatePlan([]).map((p) => p.kind)).toEqual(['empty']);
  });

  it('handles a deep chain without recursion limits', () => {
    const chain = Array.from({ length: 500 }, (_, i) => t(`t${i}`, i === 0 ? [] : [`t${i - 1}`]));
    expect(validatePlan(chain)).toEqual([]);
  });
});
