import type { NatsConnection } from '@nats-io/nats-core';
import { sendAtTurnEnd } from './turn-end.ts';

const queues = new WeakMap<NatsConnection, Array<() => void>>();

/**
 * Runs `send` (which publishes on `nc`) at the end of this turn of the event loop, together with every
 * other send queued for `nc` in the same turn, in one callback. nats.js writes its buffer to the socket
 * once per microtask checkpoint, and Node runs one after each setImmediate callback: appends and replies
 * queued from separate callbacks would leave in separate writes, and a loopback write costs tens of
 * microseconds. The turn's background work (turn-end.ts) runs only after these are written. A `send`
 * handles its own errors; one that throws anyway does not stop the others.
 */
export function atTurnEnd(nc: NatsConnection, send: () => void): void {
  let queue = queues.get(nc);
  if (queue === undefined) {
    const fresh: Array<() => void> = [];
    queue = fresh;
    queues.set(nc, fresh);
    sendAtTurnEnd(() => {
      queues.delete(nc);
      for (const queued of fresh) {
        try {
          queued();
        } catch {
          // The send owns its error handling; nothing more to do here.
        }
      }
    });
  }
  queue.push(send);
}
