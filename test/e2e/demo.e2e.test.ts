import { describe, expect, it } from 'vitest';
import { am } from './support/processes.ts';

describe('am demo', () => {
  it('exits 0 with no network, prints the final answer and a trail with the whole loop in order', async () => {
    // No endpoint and no NATS_URL: the offline model and an embedded nats-server in a temporary home.
    const demo = am(['demo'], {
      NATS_URL: undefined,
      OPENAI_BASE_URL: undefined,
      OPENAI_API_KEY: undefined,
      AM_LLM_PROVIDER: undefined,
    });
    expect(await demo.exited).toBe(0);
    const out = demo.output();
    expect(out).toMatch(/Final answer:\n.+/);
    // Task outputs are shown whole: the result the offline worker computed at a task's end is there.
    expect(out.slice(out.indexOf('Final answer:'))).toContain('Computed 12*7+6 = 90.');
    // It says why cycle 1 fails.
    expect(out).toContain('The [[BAD-ONCE]] marker makes the offline auditor fail one task in cycle 1');
    const types = [...out.matchAll(/^\s+#\s*\d+ (\w+)/gm)].map((m) => m[1]);
    const order = ['GraphCompleted', 'AuditFailed', 'GraphCompleted', 'AuditPassed', 'GraphSucceeded'];
    let from = 0;
    for (const type of order) {
      const found = types.indexOf(type, from);
      expect(found, `${type} after position ${from} in ${types.join(',')}`).toBeGreaterThanOrEqual(from);
      from = found + 1;
    }
    expect(types[0]).toBe('GraphSubmitted');
    expect(types.at(-1)).toBe('GraphSucceeded');
  });
});
