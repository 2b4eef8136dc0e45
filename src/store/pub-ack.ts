import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { JetStreamPublishError } from './store-errors.ts';

export interface AppendResult {
  seq: number;
  /** The msgID was seen within the duplicate window: nothing was appended, `seq` is the first append's. */
  duplicate: boolean;
}

const decoder = new TextDecoder();

/** A publish ack: `{ stream, seq, duplicate? }`, or `{ error: { code, err_code, description } }`. */
export function parsePubAck(data: Uint8Array): AppendResult {
  let ack: { stream?: unknown; seq?: unknown; duplicate?: unknown; error?: unknown };
  try {
    ack = JSON.parse(decoder.decode(data)) as typeof ack;
  } catch {
    throw new JetStreamPublishError(0, 0, 'the publish ack is not JSON');
  }
  if (typeof ack.error === 'object' && ack.error !== null) {
    const { code, err_code: errCode, description } = ack.error as Record<string, unknown>;
    throw new JetStreamPublishError(
      typeof code === 'number' ? code : 0,
      typeof errCode === 'number' ? errCode : 0,
      typeof description === 'string' ? description : 'JetStream refused the publish',
    );
  }
  if (typeof ack.stream !== 'string' || ack.stream === '' || typeof ack.seq !== 'number') {
    throw new JetStreamPublishError(0, 0, 'invalid publish ack');
  }
  return { seq: ack.seq, duplicate: ack.duplicate === true };
}

/** JetStream 10071 "wrong last sequence: N" → N; null for any other error. */
export function wrongLastSequence(error: unknown): number | null {
  const isWrongLastSeq =
    (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) ||
    (error instanceof JetStreamPublishError && error.errCode === JetStreamApiCodes.StreamWrongLastSequence);
  if (!isWrongLastSeq) return null;
  const match = /wrong last sequence: (\d+)/.exec((error as Error).message);
  return match?.[1] === undefined ? null : Number(match[1]);
}
