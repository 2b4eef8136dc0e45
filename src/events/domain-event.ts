import { z } from 'zod';
import { AGENT_EVENT_SCHEMAS } from './agent-events.ts';
import type { EnvelopeFields } from './envelope.ts';
import { GRAPH_EVENT_SCHEMAS } from './graph-events.ts';
import { TASK_EVENT_SCHEMAS } from './task-events.ts';

/** Every event at its current version (older versions are upcast before they get here). */
export const DomainEventSchema = z.discriminatedUnion('type', [
  ...GRAPH_EVENT_SCHEMAS,
  ...TASK_EVENT_SCHEMAS,
  ...AGENT_EVENT_SCHEMAS,
]);
export type DomainEvent = z.infer<typeof DomainEventSchema>;
export type EventType = DomainEvent['type'];
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

export const GRAPH_EVENT_TYPES: ReadonlySet<EventType> = new Set(
  GRAPH_EVENT_SCHEMAS.map((s) => s.shape.type.value),
);
export const TASK_EVENT_TYPES: ReadonlySet<EventType> = new Set(
  TASK_EVENT_SCHEMAS.map((s) => s.shape.type.value),
);
export const AGENT_EVENT_TYPES: ReadonlySet<EventType> = new Set(
  AGENT_EVENT_SCHEMAS.map((s) => s.shape.type.value),
);

/** The current version of each event type. */
export const CURRENT_VERSION: Readonly<Record<EventType, number>> = Object.fromEntries(
  [...GRAPH_EVENT_SCHEMAS, ...TASK_EVENT_SCHEMAS, ...AGENT_EVENT_SCHEMAS].map((s) => [
    s.shape.type.value,
    s.shape.v.value,
  ]),
) as Record<EventType, number>;

/** An event as a decider produces it: everything but the envelope fields the handler stamps. */
export type EventDraft = DomainEvent extends infer E
  ? E extends DomainEvent
    ? Omit<E, keyof EnvelopeFields | 'v'> & { graphId?: string; taskId?: string }
    : never
  : never;

/** An event as read back from the stream. */
export interface RecordedEvent<E extends DomainEvent = DomainEvent> {
  /** The stream sequence. */
  seq: number;
  subject: string;
  event: E;
}

/** Metadata a command carries: time and ids come in here, never from inside a decider. */
export interface EventMetadata {
  /** The decision time, epoch ms. */
  now: number;
  actor: string;
  /** A UUID v7 per event to stamp; the handler provides as many as the decision needs. */
  newId: () => string;
  correlationId?: string;
  causationId?: string;
  /** Stamped only when given (tracing on): with tracing off events stay byte-identical. */
  traceparent?: string;
}

/**
 * Adds the envelope to drafts: id, version, time and actor. Built by assignment, not by an object
 * literal spreading the draft: with a dozen draft shapes the spread took V8's slow path (~3 µs an
 * event, on every append); this is a fifth of that, with the same keys in the same order.
 */
export function stamp(draft: EventDraft, meta: EventMetadata): DomainEvent {
  const event: Record<string, unknown> = Object.assign({}, draft);
  event.v = CURRENT_VERSION[draft.type];
  event.id = meta.newId();
  event.at = new Date(meta.now).toISOString();
  event.actor = meta.actor;
  if (meta.correlationId !== undefined) event.correlationId = meta.correlationId;
  if (meta.causationId !== undefined) event.causationId = meta.causationId;
  if (meta.traceparent !== undefined) event.traceparent = meta.traceparent;
  return event as DomainEvent;
}
