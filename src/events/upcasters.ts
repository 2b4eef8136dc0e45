/**
 * Stored events are never rewritten: an event whose shape changed gets a new `v`, and an upcaster turns
 * the old stored JSON into the next version when it is read. Chains run v1 → v2 → … → current.
 */
type RawEvent = Record<string, unknown> & { type: string; v: number; data?: unknown };
type Upcaster = (raw: RawEvent) => RawEvent;

const UPCASTERS: Record<string, Record<number, Upcaster>> = {
  AgentRegistered: {
    // v1 agents had only a token: no NATS user until their credentials are rotated.
    1: (raw) => ({
      ...raw,
      v: 2,
      data: { ...((raw.data ?? {}) as Record<string, unknown>), natsPasswordHash: null },
    }),
  },
  TaskAttemptFailed: {
    // v1 stored `error` as a plain message; a v1 failure was always retried, so it reads as retryable.
    1: (raw) => {
      const data = (raw.data ?? {}) as Record<string, unknown>;
      const message = typeof data.error === 'string' ? data.error : String(data.error ?? '');
      return { ...raw, v: 2, data: { ...data, error: { message, retryable: true } } };
    },
  },
  TaskFailed: {
    // v1 said who failed the task only through the actor: the manager appends as `system:manager`.
    1: (raw) => {
      const data = (raw.data ?? {}) as Record<string, unknown>;
      const decidedBy = String(raw.actor ?? '').startsWith('system:') ? 'manager' : 'holder';
      return { ...raw, v: 2, data: { ...data, decidedBy } };
    },
  },
};

/** Raises a raw stored event to `targetVersion`; unknown gaps are left for schema validation to reject. */
export function upcast(raw: RawEvent, targetVersion: number): RawEvent {
  let current = raw;
  while (current.v < targetVersion) {
    const step = UPCASTERS[current.type]?.[current.v];
    if (!step) break;
    current = step(current);
  }
  return current;
}
