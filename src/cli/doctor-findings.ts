import { hasReplicatedCasBugs, parseVersion } from './nats-version.ts';

/** One line of `am doctor`: what was checked, how it went and, when it did not go well, what to do. */
export interface Finding {
  level: 'ok' | 'warn' | 'fail' | 'skip';
  check: string;
  detail: string;
  fix?: string;
}

/** What the stream and the server it lives on say, as `am doctor` reads them. */
export interface NatsFacts {
  serverVersion: string;
  /** Servers in the cluster the connection sees (1 for a single node). */
  clusterSize: number;
  stream: { name: string; replicas: number; currentReplicas: number; leader: string | null } | null;
  /** AM_REPLICAS of the environment `am doctor` runs in, which the servers are assumed to share. */
  configuredReplicas: number;
}

/** The verdicts on a deployment's NATS: the stream exists, is replicated on a cluster, on a server without known CAS bugs. */
export function assessNats(facts: NatsFacts): Finding[] {
  const findings: Finding[] = [];
  findings.push({
    level: 'ok',
    check: 'nats server',
    detail: `nats-server ${facts.serverVersion}, ${facts.clusterSize === 1 ? 'a single node' : `a cluster of ${facts.clusterSize}`}`,
  });
  const stream = facts.stream;
  if (stream === null) {
    findings.push({
      level: 'fail',
      check: 'stream',
      detail: 'the event stream does not exist',
      fix: 'start an AM server (it creates the stream), or check AM_STREAM and the NATS account',
    });
    return findings;
  }
  if (facts.clusterSize > 1 && stream.replicas < 3) {
    findings.push({
      level: 'fail',
      check: 'stream replicas',
      detail: `${stream.name} has ${stream.replicas} replica(s) on a cluster of ${facts.clusterSize}: losing the node that holds it stops every write`,
      fix: 'set AM_REPLICAS=3 on the AM servers and restart one (it updates the stream at start)',
    });
  } else {
    findings.push({
      level: 'ok',
      check: 'stream replicas',
      detail: `${stream.name}: ${stream.replicas} replica(s), ${stream.currentReplicas} current${stream.leader ? `, leader ${stream.leader}` : ''}`,
    });
  }
  if (stream.currentReplicas < stream.replicas) {
    findings.push({
      level: 'warn',
      check: 'stream peers',
      detail: `only ${stream.currentReplicas} of ${stream.replicas} replicas are current`,
      fix: 'a node is down or catching up: check the cluster (nats server report jetstream)',
    });
  }
  if (stream.replicas !== facts.configuredReplicas) {
    findings.push({
      level: 'warn',
      check: 'AM_REPLICAS',
      detail: `the stream has ${stream.replicas} replica(s), AM_REPLICAS here is ${facts.configuredReplicas}`,
      fix: "run am doctor with the servers' AM_REPLICAS, or align the servers",
    });
  }
  if (parseVersion(facts.serverVersion) === null) {
    findings.push({ level: 'warn', check: 'nats version', detail: `cannot read "${facts.serverVersion}"` });
  } else if (stream.replicas > 1 && hasReplicatedCasBugs(facts.serverVersion)) {
    findings.push({
      level: 'warn',
      check: 'nats version',
      detail: `nats-server ${facts.serverVersion} has known bugs in expected-sequence checks on replicated streams (nats-server #4320, #5644); AM's claim tokens and first-claim-wins keep results single, but duplicate claims can be appended`,
      fix: 'upgrade nats-server to 2.10.19 or newer',
    });
  }
  return findings;
}

/** The verdict on the clock: the server's `Date` against this machine's, within the round trip. */
export function assessClock(serverDate: Date | null, sentAt: number, receivedAt: number): Finding {
  if (serverDate === null || Number.isNaN(serverDate.getTime())) {
    return { level: 'skip', check: 'clock skew', detail: 'the server sent no Date header' };
  }
  // The Date header has whole seconds: the server's clock read somewhere in [date, date + 1 s).
  const localMid = (sentAt + receivedAt) / 2;
  const skewMs = serverDate.getTime() + 500 - localMid;
  const bound = 1_000 + (receivedAt - sentAt) / 2;
  if (Math.abs(skewMs) <= bound + 1_000) {
    return {
      level: 'ok',
      check: 'clock skew',
      detail: `within ${Math.round(Math.abs(skewMs))} ms of the server`,
    };
  }
  return {
    level: 'warn',
    check: 'clock skew',
    detail: `this machine's clock is ${(Math.abs(skewMs) / 1000).toFixed(1)} s ${skewMs > 0 ? 'behind' : 'ahead of'} the server's`,
    fix: 'run NTP on every machine: leases and lag are measured in wall-clock time',
  };
}
