import { describe, expect, it } from 'vitest';
import { type ReadyEntry, ReadyIndex } from '../../../src/projections/ready-index.ts';

const entry = (taskId: string, over: Partial<ReadyEntry> = {}): ReadyEntry => ({
  graphId: 'g',
  taskId,
  priority: 0,
  readySeq: 1,
  availableAt: 0,
  capability: null,
  ...over,
});
const anyWorker = { capabilities: new Set<string>(), now: 1000 };

describe('ReadyIndex', () => {
  describe('when tasks of several priorities are READY', () => {
    it('offers higher priority first, then READY order', () => {
      const index = new ReadyIndex();
      index.upsert(entry('low', { priority: -1 }));
      index.upsert(entry('first'));
      index.upsert(entry('second'));
      index.upsert(entry('urgent', { priority: 5 }));
      const order = [1, 2, 3, 4].map(() => index.reserve(anyWorker)?.taskId);
      expect(order).toEqual(['urgent', 'first', 'second', 'low']);
      expect(index.reserve(anyWorker)).toBeNull();
    });
  });

  describe('when claims keep taking tasks from the front of a long queue', () => {
    it('keeps READY order, also behind a task nobody can claim', () => {
      const index = new ReadyIndex();
      // A task no worker has the capability for stays at the front for good.
      index.upsert(entry('gpu-only', { capability: 'gpu' }));
      for (let i = 0; i < 20_000; i++) index.upsert(entry(`t${i}`));
      const taken: string[] = [];
      for (let i = 0; i < 20_000; i++) {
        const next = index.reserve(anyWorker);
        if (!next) break;
        taken.push(next.taskId);
        index.remove(next.graphId, next.taskId);
        // New work keeps arriving behind it, as in a running system.
        if (i % 2 === 0) index.upsert(entry(`late${i}`));
      }
      expect(taken).toEqual(Array.from({ length: 20_000 }, (_, i) => `t${i}`));
      expect(index.reserve(anyWorker)?.taskId).toBe('late0');
      expect(index.size).toBe(1 + 10_000);
      expect(index.reserve({ capabilities: new Set(['gpu']), now: 1000 })?.taskId).toBe('gpu-only');
    });
  });

  describe('with a spread (several servers claim from the same order)', () => {
    it('picks among the first `spread` eligible candidates of the top priority, as the random source says', () => {
      const picks = [0, 0.3, 0.6, 0.99].map((r) => {
        const index = new ReadyIndex({ spread: 4, random: () => r });
        for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) index.upsert(entry(id));
        index.upsert(entry('low', { priority: -1 }));
        return index.reserve(anyWorker)?.taskId;
      });
      expect(picks).toEqual(['a', 'b', 'c', 'd']);
    });

    it('never reaches past the top priority or a reserved candidate, and still hands out everything', () => {
      const index = new ReadyIndex({ spread: 4, random: () => 0.99 });
      index.upsert(entry('low', { priority: -1 }));
      index.upsert(entry('x'));
      index.upsert(entry('y'));
      const taken = [1, 2, 3].map(() => index.reserve(anyWorker)?.taskId);
      expect(taken).toEqual(['y', 'x', 'low']);
      expect(index.reserve(anyWorker)).toBeNull();
    });
  });

  describe('after a claim lost its race to another server', () => {
    it('picks from a window that grows with the claims in flight here, for 10 s', () => {
      const index = new ReadyIndex({ spread: 2, random: () => 0.99 });
      for (let i = 0; i < 100; i++) index.upsert(entry(`t${i}`));
      // Three claims in flight here (reserved), strict-ish order until a conflict: the last of 2.
      const before = [1, 2, 3].map(() => index.reserve(anyWorker)?.taskId);
      expect(before).toEqual(['t1', 't2', 't3']);
      index.noteConflict(anyWorker.now);
      // 3 reserved: a window of 2 x 4 = 8 eligible candidates (t0, t4..t10): the last of them.
      expect(index.reserve(anyWorker)?.taskId).toBe('t10');
      // Once the contention is 10 s old, back to the window of 2.
      expect(index.reserve({ ...anyWorker, now: anyWorker.now + 10_000 })?.taskId).toBe('t4');
    });
  });

  describe('when a candidate is reserved by a local claimer', () => {
    it('does not offer it again until it is unreserved', () => {
      const index = new ReadyIndex();
      index.upsert(entry('a'));
      const taken = index.reserve(anyWorker);
      expect(taken?.taskId).toBe('a');
      expect(index.reserve(anyWorker)).toBeNull();
      index.unreserve(taken!);
      expect(index.reserve(anyWorker)?.taskId).toBe('a');
    });
  });

  describe('when a task is backing off or needs a capability', () => {
    it('offers it only after availableAt and only to workers listing the capability', () => {
      const index = new ReadyIndex();
      index.upsert(entry('later', { availableAt: 5000 }));
      index.upsert(entry('gpu', { capability: 'gpu' }));
      expect(index.reserve(anyWorker)).toBeNull();
      expect(index.nextAvailableAt(1000)).toBe(5000);
      expect(index.reserve({ capabilities: new Set(['gpu']), now: 1000 })?.taskId).toBe('gpu');
      expect(index.reserve({ capabilities: new Set(), now: 6000 })?.taskId).toBe('later');
    });
  });

  describe('when a task leaves READY', () => {
    it('is removed and wakes nobody, while an upsert wakes waiters', async () => {
      const index = new ReadyIndex();
      index.upsert(entry('a'));
      index.remove('g', 'a');
      expect(index.size).toBe(0);
      expect(index.has('g', 'a')).toBe(false);
      let woke = false;
      const waiting = index.changed().then(() => {
        woke = true;
      });
      await Promise.resolve();
      expect(woke).toBe(false);
      index.upsert(entry('b'));
      await waiting;
      expect(woke).toBe(true);
    });
  });
});
