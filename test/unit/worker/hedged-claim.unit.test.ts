import { describe, expect, it } from 'vitest';
import type { ClaimReply } from '../../../src/protocol/index.ts';
import { hedgedClaim } from '../../../src/worker/hedged-claim.ts';

const claimOf = (token: string): ClaimReply => ({
  task: { id: `t${token}`, graphId: 'g', title: 't', instructions: 'i', kind: 'work', attempt: 1, cycle: 1 },
  claimToken: token,
  leaseUntil: new Date(0).toISOString(),
  leaseMs: 60_000,
  context: { goal: 'g', dependencies: [] },
});

/** A scripted transport: each send returns a promise the test settles by hand. */
function harness(opts: { waitMs?: number; hedgeAfterMs?: number } = {}) {
  let clock = 1_000;
  const sent: {
    waitMs: number;
    isCurrent: () => boolean;
    resolve: (c: ClaimReply | null) => void;
    reject: (e: Error) => void;
  }[] = [];
  const hints = new Set<() => void>();
  const late: ClaimReply[] = [];
  const result = hedgedClaim({
    waitMs: opts.waitMs ?? 20_000,
    hedgeAfterMs: opts.hedgeAfterMs ?? 500,
    now: () => clock,
    send: (waitMs, isCurrent) =>
      new Promise((resolve, reject) => sent.push({ waitMs, isCurrent, resolve, reject })),
    onHint: (listener) => {
      hints.add(listener);
      return () => hints.delete(listener);
    },
    onLateClaim: (claim) => late.push(claim),
  });
  const settled = { value: undefined as ClaimReply | null | undefined, error: undefined as unknown };
  result.then(
    (v) => {
      settled.value = v;
    },
    (e: unknown) => {
      settled.error = e;
    },
  );
  return {
    sent,
    late,
    settled,
    hintCount: () => hints.size,
    advance: (ms: number) => {
      clock += ms;
    },
    hint: () => {
      for (const h of [...hints]) h();
    },
    flush: () => new Promise((r) => setTimeout(r, 0)),
  };
}

describe('hedgedClaim', () => {
  it('sends once and answers with the reply when no hint comes', async () => {
    const h = harness();
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]?.waitMs).toBe(20_000);
    h.sent[0]?.resolve(claimOf('7'));
    await h.flush();
    expect(h.settled.value?.claimToken).toBe('7');
    expect(h.hintCount()).toBe(0);
  });

  it('ignores a hint while the request is younger than hedgeAfterMs', () => {
    const h = harness();
    h.advance(100);
    h.hint();
    expect(h.sent).toHaveLength(1);
  });

  it('re-sends with the remaining wait on a hint once the request has waited, and takes the first claim', async () => {
    const h = harness();
    h.advance(3_000);
    h.hint();
    expect(h.sent).toHaveLength(2);
    expect(h.sent[1]?.waitMs).toBe(17_000);
    expect(h.sent[0]?.isCurrent()).toBe(false);
    expect(h.sent[1]?.isCurrent()).toBe(true);
    h.sent[1]?.resolve(claimOf('9'));
    await h.flush();
    expect(h.settled.value?.claimToken).toBe('9');
  });

  it("ends on the newest request's no-work answer, not an older one's", async () => {
    const h = harness();
    h.advance(1_000);
    h.hint();
    h.sent[0]?.resolve(null);
    await h.flush();
    expect(h.settled.value).toBeUndefined();
    h.sent[1]?.resolve(null);
    await h.flush();
    expect(h.settled.value).toBeNull();
  });

  it('hands a different claim that comes back late to onLateClaim, and ignores the same claim', async () => {
    const h = harness();
    h.advance(1_000);
    h.hint();
    h.sent[1]?.resolve(claimOf('11'));
    await h.flush();
    h.sent[0]?.resolve(claimOf('11'));
    await h.flush();
    expect(h.late).toEqual([]);
    const again = harness();
    again.advance(1_000);
    again.hint();
    again.sent[1]?.resolve(null);
    await again.flush();
    again.sent[0]?.resolve(claimOf('12'));
    await again.flush();
    expect(again.settled.value).toBeNull();
    expect(again.late.map((c) => c.claimToken)).toEqual(['12']);
  });

  it("fails only when the newest request fails; an older one's error (a dead server) is ignored", async () => {
    const h = harness();
    h.advance(1_000);
    h.hint();
    h.sent[0]?.reject(new Error('timeout'));
    await h.flush();
    expect(h.settled.error).toBeUndefined();
    h.sent[1]?.reject(new Error('also down'));
    await h.flush();
    expect((h.settled.error as Error).message).toBe('also down');
  });

  it('does not hedge when too little of the wait is left', () => {
    const h = harness({ waitMs: 1_000 });
    h.advance(800);
    h.hint();
    expect(h.sent).toHaveLength(1);
  });
});
