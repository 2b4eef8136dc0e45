/**
 * Size caps. nats-server's default max payload is 1 MiB, so every field that ends up in an event is
 * bounded, and the store refuses an encoded event above MAX_EVENT_BYTES with AM_ERR_PAYLOAD_TOO_LARGE
 * instead of letting a publish fail.
 */
export const LIMITS = {
  maxEventBytes: 1024 * 1024 - 16 * 1024,
  maxGoalChars: 16_000,
  maxTitleChars: 200,
  maxInstructionsChars: 16_000,
  maxTasksPerGraph: 500,
  maxDependsOn: 64,
  maxOutputChars: 256_000,
  maxThoughtChars: 8_000,
  maxObservationChars: 8_000,
  maxStepsPerResult: 200,
  maxErrorMessageChars: 4_000,
  maxReportTextChars: 32_000,
  /** Findings an audit report may list: a few per task of the largest graph. */
  maxFindings: 2_000,
  /** What an encoded AuditReport may take of its event, leaving room for the envelope and rework set. */
  maxAuditReportBytes: 768 * 1024,
  maxRequestIdChars: 128,
  maxIdempotencyKeyChars: 256,
  maxCapabilityChars: 64,
} as const;
