import { describe, expect, it } from 'vitest';
import { CapabilityWatch } from '../../../src/node/capability-watch.ts';
import type { ReadyEntry } from '../../../src/projections/index.ts';
import { FakeClock } from '../../kit/fake-clock.ts';

function entry(taskId: string, capability: string | null): ReadyEntry {
  return { graphId: 'g1', taskId, priority: 0, readySeq: 1, availableAt: 0, capability };
}

function setup(ready: ReadyEntry[]) {
  const clock = new FakeClock(1_000_000);
  const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const log = {
    warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }),
  };
  const watch = new CapabilityWatch({
    clock,
    // pino's warn is overloaded; the watch uses only its (fields, message) form, which this records.
    log: log as never,
    ready: () => ready,
    afterMs: 30_000,
    repeatMs: 300_000,
    intervalMs: 10_000,
  });
  return { clock, warnings, watch };
}

describe('CapabilityWatch', () => {
  it('warns once READY tasks have needed a capability nobody offered for 30 s, naming it and the offered ones', async () => {
    const { clock, warnings, watch } = setup([entry('a', 'gpu'), entry('b', 'gpu'), entry('c', null)]);
    watch.offered(['search']);
    await clock.advance(20_000);
    expect(warnings).toHaveLength(0);
    await clock.advance(10_000);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.fields).toMatchObject({ capability: 'gpu', tasks: 2, offered: ['search'] });
    expect(warnings[0]?.message).toContain('2 READY task(s) need capability "gpu"');
    expect(warnings[0]?.message).toContain('lists "capabilities": ["gpu"]');
    // Not again at every check: once per repeat period.
    await clock.advance(60_000);
    expect(warnings).toHaveLength(1);
    await clock.advance(300_000);
    expect(warnings).toHaveLength(2);
    watch.stop();
  });

  it('stays quiet while a worker keeps offering the capability', async () => {
    const { clock, warnings, watch } = setup([entry('a', 'gpu')]);
    for (let i = 0; i < 10; i++) {
      watch.offered(['gpu']);
      await clock.advance(10_000);
    }
    expect(warnings).toHaveLength(0);
    // The worker goes away: 30 s later the task is reported.
    await clock.advance(40_000);
    expect(warnings.map((w) => w.fields.capability)).toEqual(['gpu']);
    watch.stop();
  });

  it('says nothing about tasks without a capability', async () => {
    const { clock, warnings, watch } = setup([entry('a', null)]);
    await clock.advance(120_000);
    expect(warnings).toHaveLength(0);
    watch.stop();
  });
});
