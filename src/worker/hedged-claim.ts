import type { ClaimReply } from '../protocol/index.ts';

export interface HedgedClaimOptions {
  /**
   * Sends one claim request with this requestId and the given waitMs. `isCurrent` turns false once the
   * request is superseded or answered: retries of it are pointless then.
   */
  send(waitMs: number, isCurrent: () => boolean): Promise<ClaimReply | null>;
  waitMs: number;
  /** Subscribes to READY hints; returns the unsubscribe. */
  onHint(listener: () => void): () => void;
  /** A hint re-sends the request only when the newest one has been waiting at least this long. */
  hedgeAfterMs: number;
  /** A claim that came back after the answer was given (and is not that answer): give it back. */
  onLateClaim(claim: ClaimReply): void;
  now?: () => number;
}

/**
 * A NATS long-poll sits in whichever server took the request; if that server dies, nobody answers
 * until the request times out, while other servers already have work. So when a READY hint arrives
 * and the newest request has waited `hedgeAfterMs`, the same request (same requestId) goes out again
 * and may land on a live server. The same requestId makes the copies converge on one claim: on one
 * server the newer request supersedes the older, across servers the claim's msgID deduplicates the
 * append and the read model answers with the claim already made. The first claim wins; the newest
 * request's "no work" ends the wait; anything else that still comes back with a different claim is
 * handed to `onLateClaim`, so it is released rather than left to a lease expiry.
 */
export function hedgedClaim(opts: HedgedClaimOptions): Promise<ClaimReply | null> {
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.waitMs;
  return new Promise((resolve, reject) => {
    let answered = false;
    let answer: ClaimReply | null = null;
    let newest = 0;
    let newestSentAt = 0;
    const finish = (outcome: { claim: ClaimReply | null } | { error: unknown }) => {
      answered = true;
      unsubscribe();
      if ('error' in outcome) reject(outcome.error);
      else {
        answer = outcome.claim;
        resolve(outcome.claim);
      }
    };
    const send = () => {
      const generation = ++newest;
      newestSentAt = now();
      const isCurrent = () => !answered && generation === newest;
      opts.send(Math.max(0, deadline - newestSentAt), isCurrent).then(
        (claim) => {
          if (answered) {
            if (claim && claim.claimToken !== answer?.claimToken) opts.onLateClaim(claim);
            return;
          }
          if (claim) finish({ claim });
          else if (generation === newest) finish({ claim: null });
        },
        (error: unknown) => {
          if (!answered && generation === newest) finish({ error });
        },
      );
    };
    const unsubscribe = opts.onHint(() => {
      if (answered) return;
      const at = now();
      if (at - newestSentAt >= opts.hedgeAfterMs && deadline - at > opts.hedgeAfterMs) send();
    });
    send();
  });
}
