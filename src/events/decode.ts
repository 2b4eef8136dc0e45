import { CURRENT_VERSION, type DomainEvent, DomainEventSchema, type EventType } from './domain-event.ts';
import { upcast } from './upcasters.ts';

export type DecodeResult = { ok: true; event: DomainEvent } | { ok: false; reason: string };

/** Parses a stored payload into a current-version event: JSON → upcast → schema. Never throws. */
export function decodeEvent(payload: Uint8Array | string): DecodeResult {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === 'string' ? payload : textDecoder.decode(payload));
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  if (typeof raw !== 'object' || raw === null || typeof (raw as { type?: unknown }).type !== 'string') {
    return { ok: false, reason: 'no event type' };
  }
  const candidate = raw as { type: string; v?: unknown };
  const target = CURRENT_VERSION[candidate.type as EventType];
  if (target === undefined) return { ok: false, reason: `unknown event type ${candidate.type}` };
  if (typeof candidate.v !== 'number') return { ok: false, reason: 'no event version' };
  if (candidate.v > target)
    return { ok: false, reason: `${candidate.type} v${candidate.v} is newer than this build` };
  const upcasted = upcast(candidate as { type: string; v: number }, target);
  return validateEvent(upcasted, candidate.type);
}

/** Checks a current-version event against its schema, as decodeEvent does after parsing. Never throws. */
export function validateEvent(candidate: unknown, type: string): DecodeResult {
  const parsed = DomainEventSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `invalid ${type}: ${issue?.path.join('.')} ${issue?.message}` };
  }
  return { ok: true, event: parsed.data };
}

export function encodeEvent(event: DomainEvent): Uint8Array {
  // Buffer.from rather than TextEncoder.encode: on Node 20 the latter costs ~2 µs per few hundred bytes.
  return Buffer.from(JSON.stringify(event), 'utf8');
}

const textDecoder = new TextDecoder();
