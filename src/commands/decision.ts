import type { EventDraft } from '../events/index.ts';

/** Which aggregate subject an append goes to (the handler turns it into a subject string). */
export type AggregateRef =
  | { kind: 'graph'; graphId: string }
  | { kind: 'task'; graphId: string; taskId: string }
  | { kind: 'progress'; graphId: string; taskId: string }
  | { kind: 'agent'; agentId: string };

/**
 * What a decider returns when the command is accepted. One event per append: nats-server 2.9 has no
 * atomic batch publish, so a command that needs two facts on one subject is modelled as one event.
 */
export type Decision =
  | {
      kind: 'append';
      to: AggregateRef;
      /**
       * The subject's last sequence the decision was made on (0 = no events yet); null only for
       * subjects without an aggregate to guard (progress steps).
       */
      expectedSeq: number | null;
      /**
       * Identifies one request of one actor (DESIGN.md "msgIDs"): `claim:<agentId>:<requestId>`,
       * `result:<agentId>:<claimToken>`, or a shared id only for actions that are the same whoever does them.
       */
      msgId: string;
      event: EventDraft;
    }
  /** Nothing to append: the command was already applied (an idempotent repeat). `seq` is the earlier append. */
  | { kind: 'noop'; seq: number };
