import { describe, expect, it } from 'vitest';
import { Subjects } from '../../../src/events/index.ts';

describe('Subjects', () => {
  const subjects = new Subjects('am.evt');
  const g = '4f1c2b9e-8a7d-4c3b-9e2f-1a0b9c8d7e6f';

  it('builds and parses every aggregate subject', () => {
    const refs = [
      { kind: 'graph', graphId: g },
      { kind: 'task', graphId: g, taskId: 'fetch_1' },
      { kind: 'progress', graphId: g, taskId: 'fetch_1' },
      { kind: 'agent', agentId: 'w-1' },
    ] as const;
    for (const ref of refs) expect(subjects.parse(subjects.of(ref))).toEqual(ref);
    expect(subjects.task(g, 'x')).toBe(`am.evt.${g}.task.x`);
    expect(subjects.progress(g, 'x')).toBe(`am.evt.${g}.task.x.progress`);
    expect(subjects.graphTrail(g)).toBe(`am.evt.${g}.>`);
  });

  it('rejects subjects that are not ours', () => {
    expect(subjects.parse('other.evt.x.graph')).toBeNull();
    expect(subjects.parse(`am.evt.${g}.task`)).toBeNull();
    expect(subjects.parse(`am.evt.${g}.task.x.other`)).toBeNull();
    expect(subjects.parse(`am.evt.${g}.nope`)).toBeNull();
  });
});
