import { describe, expect, it } from 'vitest';
import type { GraphState } from '../../../src/events/index.ts';
import { GraphCache } from '../../../src/projections/graph-cache.ts';

/** Only `id` and the task count matter to the cache. */
function graph(id: string, tasks: number): GraphState {
  const state = { id, tasks: new Map(Array.from({ length: tasks }, (_, i) => [`t${i}`, {}])) };
  return state as unknown as GraphState;
}

describe('GraphCache', () => {
  it('evicts least recently used graphs once their tasks exceed the budget, only on trim()', () => {
    const loads: string[] = [];
    const cache = new GraphCache({ graphs: 100, tasks: 1_000 }, (id) => {
      loads.push(id);
      return null;
    });
    for (const id of ['a', 'b', 'c']) cache.set(graph(id, 400));
    // A batch may run over the budget: nothing goes before its rows are written.
    expect(cache.taskCount).toBe(1_200);
    expect(cache.size).toBe(3);
    cache.get('a');
    cache.trim();
    // 'b' was the least recently used: it goes, and 800 tasks stay.
    expect(cache.size).toBe(2);
    expect(cache.taskCount).toBe(800);
    expect(cache.get('b')).toBeNull();
    expect(loads).toEqual(['b']);
    expect(cache.get('a')?.id).toBe('a');
  });

  it('keeps the most recent graph even when it alone is over the budget', () => {
    const cache = new GraphCache({ graphs: 10, tasks: 100 }, () => null);
    cache.set(graph('small', 10));
    cache.set(graph('huge', 5_000));
    cache.trim();
    expect(cache.size).toBe(1);
    expect(cache.get('huge')?.tasks.size).toBe(5_000);
  });

  it('counts a graph set again (replanned) once, at its new size', () => {
    const cache = new GraphCache({ graphs: 10, tasks: 10_000 }, () => null);
    cache.set(graph('g', 5));
    cache.set(graph('g', 50));
    expect(cache.taskCount).toBe(50);
    cache.clear();
    expect(cache.taskCount).toBe(0);
  });

  it('holds at most `graphs` graphs', () => {
    const cache = new GraphCache({ graphs: 2, tasks: 10_000 }, () => null);
    for (const id of ['a', 'b', 'c', 'd']) cache.set(graph(id, 1));
    cache.trim();
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeNull();
    expect(cache.get('d')?.id).toBe('d');
  });
});
