import { randomUUID } from 'node:crypto';
import type { DomainEvent } from '../../../src/events/index.ts';

/** A small valid event of a graph; `n` tells instances apart in assertions. */
export function graphEvent(graphId: string, n = 0): DomainEvent {
  return {
    type: 'GraphCancelled',
    v: 1,
    id: randomUUID(),
    graphId,
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    actor: 'test',
    data: { reason: `r${n}` },
  };
}

/** A valid-looking event of a task of a graph. */
export function taskEvent(graphId: string, taskId: string, n = 0): DomainEvent {
  return {
    type: 'TaskCancelled',
    v: 1,
    id: randomUUID(),
    graphId,
    taskId,
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    actor: 'test',
    data: { reason: `t${n}` },
  };
}

/** An event whose JSON exceeds nats-server's 1 MiB max payload (the store must refuse it first). */
export function oversizedEvent(graphId: string): DomainEvent {
  return {
    type: 'GraphSucceeded',
    v: 1,
    id: randomUUID(),
    graphId,
    at: new Date().toISOString(),
    actor: 'test',
    data: { output: 'x'.repeat(1024 * 1024 + 1) },
  };
}

export function reasonOf(event: DomainEvent): string | null {
  return 'reason' in event.data && typeof event.data.reason === 'string' ? event.data.reason : null;
}
