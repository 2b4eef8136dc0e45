import type { DomainEvent } from './domain-event.ts';

/**
 * A stored message as the event store delivers it, undecoded, so unreadable ones can be recorded. Here,
 * beside the events, because the store produces it and the projections consume it, and neither may
 * import the other.
 */
export interface RawStoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  /**
   * Messages left in the stream after this one, as the server counted them when it delivered it. A hint
   * for batching only: nats-server 2.9 miscounts it (too high and too low) for a consumer that starts in
   * the middle of a stream, so nothing that must happen may wait for it.
   */
  pending: number;
  /**
   * The event, already checked against its schema, when this process appended exactly these bytes
   * (see the store's OwnAppends); otherwise absent and `data` must be decoded.
   */
  checked?: DomainEvent;
}
