import { describe, expect, it } from 'vitest';
import { assessClock, assessNats, type NatsFacts } from '../../../src/cli/doctor-findings.ts';
import { hasReplicatedCasBugs, parseVersion } from '../../../src/cli/nats-version.ts';

const stream = { name: 'AM_EVENTS', replicas: 3, currentReplicas: 3, leader: 'n1' };
const facts = (over: Partial<NatsFacts>): NatsFacts => ({
  serverVersion: '2.10.22',
  clusterSize: 3,
  stream,
  configuredReplicas: 3,
  ...over,
});
const levels = (facts: NatsFacts) => Object.fromEntries(assessNats(facts).map((f) => [f.check, f.level]));

describe('am doctor: NATS findings', () => {
  it('passes a replicated stream on a cluster of a fixed nats-server', () => {
    expect(assessNats(facts({})).every((f) => f.level === 'ok')).toBe(true);
  });

  it('fails a stream with one replica on a cluster, and says to set AM_REPLICAS=3', () => {
    const findings = assessNats(
      facts({ stream: { ...stream, replicas: 1, currentReplicas: 1 }, configuredReplicas: 1 }),
    );
    const replicas = findings.find((f) => f.check === 'stream replicas');
    expect(replicas?.level).toBe('fail');
    expect(replicas?.fix).toMatch(/AM_REPLICAS=3/);
  });

  it('passes one replica on a single node', () => {
    expect(
      levels(
        facts({
          clusterSize: 1,
          stream: { ...stream, replicas: 1, currentReplicas: 1 },
          configuredReplicas: 1,
        }),
      ),
    ).toMatchObject({
      'stream replicas': 'ok',
    });
  });

  it('warns about replicated streams on nats-server before 2.10.19, naming the issues', () => {
    const version = assessNats(facts({ serverVersion: '2.9.10' })).find((f) => f.check === 'nats version');
    expect(version?.level).toBe('warn');
    expect(version?.detail).toMatch(/#4320.*#5644/);
    expect(assessNats(facts({ serverVersion: '2.10.19' })).some((f) => f.check === 'nats version')).toBe(
      false,
    );
  });

  it('warns when replicas are not all current, and when AM_REPLICAS differs from the stream', () => {
    expect(levels(facts({ stream: { ...stream, currentReplicas: 2 }, configuredReplicas: 1 }))).toMatchObject(
      {
        'stream peers': 'warn',
        AM_REPLICAS: 'warn',
      },
    );
  });

  it('fails a missing stream', () => {
    expect(levels(facts({ stream: null }))).toMatchObject({ stream: 'fail' });
  });

  it('reads versions', () => {
    expect(parseVersion('v2.9.10')).toEqual([2, 9, 10]);
    expect(parseVersion('2.10.19-beta')).toEqual([2, 10, 19]);
    expect(parseVersion('main')).toBeNull();
    expect([
      hasReplicatedCasBugs('2.9.10'),
      hasReplicatedCasBugs('2.10.18'),
      hasReplicatedCasBugs('2.10.19'),
    ]).toEqual([true, true, false]);
    expect(hasReplicatedCasBugs('2.11.0')).toBe(false);
  });
});

describe('am doctor: clock skew', () => {
  const at = Date.parse('2026-12-03T10:00:00.000Z');
  it('accepts a server clock within the Date header precision and the round trip', () => {
    expect(assessClock(new Date(at), at + 100, at + 200).level).toBe('ok');
  });
  it('warns when the clocks differ by seconds, saying which way', () => {
    const finding = assessClock(new Date(at), at + 10_000, at + 10_050);
    expect(finding.level).toBe('warn');
    expect(finding.detail).toMatch(/ahead of the server/);
  });
  it('skips without a Date header', () => {
    expect(assessClock(null, at, at).level).toBe('skip');
  });
});
