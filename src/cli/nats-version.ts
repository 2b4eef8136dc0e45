/** `2.9.10` → [2, 9, 10]; null when it is not a version. */
export function parseVersion(version: string): [number, number, number] | null {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) return null;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** The first nats-server release with the fixes for expected-sequence checks on replicated streams. */
const CAS_FIXED_IN: readonly [number, number, number] = [2, 10, 19];

/**
 * Whether a nats-server of this version has the known bugs in expected-sequence checks on replicated
 * streams (nats-server #4320, #5644; fixed in 2.10.19). Unknown versions count as fixed: nothing to warn of.
 */
export function hasReplicatedCasBugs(version: string): boolean {
  const parsed = parseVersion(version);
  if (parsed === null) return false;
  for (let i = 0; i < 3; i++) {
    if (parsed[i] !== CAS_FIXED_IN[i]) return (parsed[i] ?? 0) < (CAS_FIXED_IN[i] ?? 0);
  }
  return false;
}

/** What an AM server logs at start when the stream is replicated on such a server. */
export const REPLICATED_CAS_WARNING =
  'nats-server before 2.10.19 has known bugs in expected-sequence checks on replicated streams (nats-server #4320, #5644): duplicate claims may be appended; claim tokens and first-claim-wins keep every task to one accepted result, but upgrade nats-server';
