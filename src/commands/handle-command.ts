import { AppError, StreamSequenceConflict } from '../errors.ts';
import { type DomainEvent, type EventMetadata, type Subjects, stamp } from '../events/index.ts';
import type { Decision } from './decision.ts';

/** The I/O a command needs, injected so src/commands stays free of NATS and SQLite. */
export interface CommandPorts {
  /**
   * Appends one event with `Nats-Expected-Last-Subject-Sequence` (when not null) and `Nats-Msg-Id`.
   * Throws StreamSequenceConflict on JetStream error 10071.
   */
  append(req: {
    subject: string;
    event: DomainEvent;
    expectedLastSubjectSeq: number | null;
    msgId: string;
  }): Promise<{ seq: number; duplicate: boolean }>;
  subjects: Subjects;
  /** Resolves true once the local projection has applied `seq`, false after `timeoutMs`. */
  waitFor(seq: number, timeoutMs: number): Promise<boolean>;
  clock(): number;
  newId(): string;
}

export interface HandleCommandOptions<S> {
  /** Reads the aggregate's current state (a projection row or cached fold), with its last sequence. */
  load: () => S;
  decide: (state: S, meta: EventMetadata) => Decision | AppError;
  actor: string;
  correlationId?: string;
  causationId?: string;
  /** The appending span's traceparent (tracing on), stamped into the events' metadata. */
  traceparent?: string | undefined;
  /** Decisions tried before AM_ERR_CONFLICT. Default 3. */
  maxTries?: number;
  /** How long to wait for the projection to catch up after a conflict (ms). Default 5000. */
  waitTimeoutMs?: number;
}

export interface CommandOutcome {
  /** The sequence of the appended event, or of the earlier append a no-op or a duplicate stands for. */
  seq: number;
  /** JetStream recognised the msgId: our own earlier append of this request (msgIds are per request). */
  duplicate: boolean;
  /** The decider found the command already applied; nothing was appended. */
  noop: boolean;
  event: DomainEvent | null;
}

/**
 * load → decide → append with the expected sequence and msgId. A stale decision (10071) waits for the
 * projection to apply the sequence the stream reported, then decides again on the fresh state; after
 * `maxTries` decisions it gives up with AM_ERR_CONFLICT. Refusals are thrown as the decider's AppError.
 */
export async function handleCommand<S>(
  ports: CommandPorts,
  opts: HandleCommandOptions<S>,
): Promise<CommandOutcome> {
  const maxTries = Math.max(1, opts.maxTries ?? 3);
  const waitTimeoutMs = opts.waitTimeoutMs ?? 5_000;
  let conflict: StreamSequenceConflict | null = null;
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    const meta: EventMetadata = {
      now: ports.clock(),
      actor: opts.actor,
      newId: () => ports.newId(),
      ...(opts.correlationId === undefined ? {} : { correlationId: opts.correlationId }),
      ...(opts.causationId === undefined ? {} : { causationId: opts.causationId }),
    };
    if (opts.traceparent !== undefined) meta.traceparent = opts.traceparent;
    const decision = opts.decide(opts.load(), meta);
    if (decision instanceof AppError) throw decision;
    switch (decision.kind) {
      case 'noop':
        return { seq: decision.seq, duplicate: false, noop: true, event: null };
      case 'append':
        break;
      default: {
        const unreachable: never = decision;
        throw new Error(`unknown decision ${(unreachable as Decision).kind}`);
      }
    }
    const event = stamp(decision.event, meta);
    try {
      const ack = await ports.append({
        subject: ports.subjects.of(decision.to),
        event,
        expectedLastSubjectSeq: decision.expectedSeq,
        msgId: decision.msgId,
      });
      return { seq: ack.seq, duplicate: ack.duplicate, noop: false, event };
    } catch (error) {
      if (!(error instanceof StreamSequenceConflict)) throw error;
      conflict = error;
      if (attempt < maxTries) await ports.waitFor(error.actualSeq, waitTimeoutMs);
    }
  }
  throw new AppError('AM_ERR_CONFLICT', `gave up after ${maxTries} conflicting decisions`, {
    cause: conflict,
    details: { seq: conflict?.actualSeq ?? null, subject: conflict?.subject ?? null },
  });
}
