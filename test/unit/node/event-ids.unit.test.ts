import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { eventIdGenerator } from '../../../src/node/event-ids.ts';

describe('eventIdGenerator', () => {
  it('makes valid, distinct UUID v7s in increasing order, across pool refills', () => {
    const next = eventIdGenerator();
    const ids = Array.from({ length: 2_000 }, () => next());
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('carries the current time in the first 48 bits', () => {
    const before = Date.now();
    const id = eventIdGenerator()();
    const msecs = Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    expect(msecs).toBeGreaterThanOrEqual(before);
    expect(msecs).toBeLessThanOrEqual(Date.now() + 1);
  });
});
