/** Where a consumed message sits: its stream sequence and how many messages the consumer still has after it. */
export interface DeliveryPosition {
  streamSeq: number;
  pending: number;
}

const DOT = 46;
const ZERO = 48;
const NINE = 57;
/** The most tokens a JetStream ack subject has (the newer form, with its random suffix). */
const MAX_TOKENS = 12;

/**
 * Reads the stream sequence and pending count from a JetStream delivery's reply (ack) subject without
 * splitting it: nats.js's `seq` and `info` split the subject into a dozen strings per message, a visible
 * share of the projector's feed. Handles both forms nats-server sends:
 *   `$JS.ACK.<stream>.<consumer>.<delivered>.<streamSeq>.<consumerSeq>.<ts>.<pending>` (9 tokens) and
 *   `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<streamSeq>.<consumerSeq>.<ts>.<pending>[.<random>]`.
 * Returns null for anything else, so the caller can fall back to nats.js's parser.
 */
export function deliveryPosition(reply: string): DeliveryPosition | null {
  if (!reply.startsWith('$JS.ACK.')) return null;
  // Where each token starts; tokens never contain dots (stream and consumer names cannot).
  const starts: number[] = [0];
  for (let i = 0; i < reply.length; i++) {
    if (reply.charCodeAt(i) !== DOT) continue;
    if (starts.length === MAX_TOKENS) return null;
    starts.push(i + 1);
  }
  const tokens = starts.length;
  // In both forms the stream sequence is the 4th token from `pending`, which is last or next to last.
  const pendingToken = tokens === 9 || tokens === 11 ? tokens - 1 : tokens === 12 ? 10 : -1;
  if (pendingToken < 0) return null;
  const streamSeq = numberAt(reply, starts, pendingToken - 3);
  const pending = numberAt(reply, starts, pendingToken);
  if (streamSeq === null || pending === null) return null;
  return { streamSeq, pending };
}

/** The decimal number that token `index` holds, or null if it is empty or not all digits. */
function numberAt(reply: string, starts: readonly number[], index: number): number | null {
  const from = starts[index];
  if (from === undefined) return null;
  const to = index + 1 < starts.length ? (starts[index + 1] ?? 0) - 1 : reply.length;
  if (to <= from) return null;
  let value = 0;
  for (let i = from; i < to; i++) {
    const code = reply.charCodeAt(i);
    if (code < ZERO || code > NINE) return null;
    value = value * 10 + (code - ZERO);
  }
  return value;
}
