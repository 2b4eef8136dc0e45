import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** Random bytes drawn from the OS in one call per this many ids. */
const POOL_IDS = 256;

/**
 * A generator of event ids: UUID v7 (RFC 9562), monotonic within this process (a counter seeded from
 * the random bits orders ids of the same millisecond, as the uuid package does). The random bits come
 * from a pool refilled once per 256 ids: one `getRandomValues` per id was a visible share of the
 * append path, where every command makes one id.
 */
export function eventIdGenerator(): () => string {
  const pool = new Uint8Array(16 * POOL_IDS);
  let offset = pool.length;
  let msecs = Number.NEGATIVE_INFINITY;
  let seq = 0;
  return () => {
    if (offset + 16 > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    // A copy: uuid keeps no reference, but a view into a pool that is refilled must not escape anyway.
    const random = pool.slice(offset, offset + 16);
    offset += 16;
    const now = Date.now();
    if (now > msecs) {
      seq =
        (((random[6] ?? 0) & 0x7f) << 24) |
        ((random[7] ?? 0) << 16) |
        ((random[8] ?? 0) << 8) |
        (random[9] ?? 0);
      msecs = now;
    } else {
      seq = (seq + 1) | 0;
      if (seq === 0) msecs += 1;
    }
    return uuidv7({ msecs, seq, random });
  };
}
