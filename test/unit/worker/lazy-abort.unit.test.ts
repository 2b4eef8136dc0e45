import { describe, expect, it } from 'vitest';
import { LazyAbort } from '../../../src/worker/lazy-abort.ts';

describe('LazyAbort', () => {
  it('aborts a signal handed out before the abort, with the reason', () => {
    const abort = new LazyAbort();
    const { signal } = abort;
    const seen: unknown[] = [];
    signal.addEventListener('abort', () => seen.push(signal.reason));
    expect(signal.aborted).toBe(false);
    abort.abort(new Error('graph cancelled'));
    expect(abort.aborted).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(seen).toEqual([new Error('graph cancelled')]);
  });

  it('hands out an already aborted signal after an abort nobody watched', () => {
    const abort = new LazyAbort();
    abort.abort(new Error('shutdown'));
    expect(abort.signal.aborted).toBe(true);
    expect(abort.signal.reason).toEqual(new Error('shutdown'));
  });

  it('keeps the first reason', () => {
    const abort = new LazyAbort();
    abort.abort('first');
    abort.abort('second');
    expect(abort.signal.reason).toBe('first');
  });
});
