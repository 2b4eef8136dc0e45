import { describe, expect, it } from 'vitest';
import { decideRegisterAgent, type RegisterAgent } from '../../../src/commands/register-agent.ts';
import { decideRevokeAgent, type RevokeAgent } from '../../../src/commands/revoke-agent.ts';
import { decideRotateAgent, type RotateAgent } from '../../../src/commands/rotate-agent.ts';
import { evolveAgent } from '../../../src/events/agent-state.ts';
import { decodeEvent } from '../../../src/events/decode.ts';
import { upcast } from '../../../src/events/upcasters.ts';
import { ADMIN, expectCode, expectNoop, givenAgent, meta } from './given.ts';

const HASH = 'a'.repeat(64);
const NEW_HASH = 'b'.repeat(64);
/** The shape of a bcrypt hash (nats-server accepts it in place of a password). */
const NATS_HASH = `$2b$06$${'A'.repeat(53)}`;
const NEW_NATS_HASH = `$2b$06$${'B'.repeat(53)}`;
const registerAgent: RegisterAgent = {
  type: 'RegisterAgent',
  data: { agentId: 'worker-7', role: 'worker', tokenHash: HASH, natsPasswordHash: NATS_HASH },
  metadata: meta(undefined, ADMIN),
};
const revokeAgent: RevokeAgent = {
  type: 'RevokeAgent',
  data: { agentId: 'worker-7', reason: 'leaked' },
  metadata: meta(undefined, ADMIN),
};
const rotateAgent: RotateAgent = {
  type: 'RotateAgent',
  data: { agentId: 'worker-7', tokenHash: NEW_HASH, natsPasswordHash: NEW_NATS_HASH },
  metadata: meta(undefined, ADMIN),
};
const registered = {
  type: 'AgentRegistered',
  data: { agentId: 'worker-7', role: 'worker', tokenHash: HASH, natsPasswordHash: NATS_HASH },
} as const;
/** An agent registered before NATS users (AgentRegistered v1, upcast). */
const registeredV1 = {
  type: 'AgentRegistered',
  data: { agentId: 'worker-7', role: 'worker', tokenHash: HASH, natsPasswordHash: null },
} as const;

describe('RegisterAgent', () => {
  describe('when the agent is new', () => {
    it('registers it on its own subject', () => {
      expect(decideRegisterAgent(registerAgent, null)).toEqual({
        kind: 'append',
        to: { kind: 'agent', agentId: 'worker-7' },
        expectedSeq: 0,
        msgId: 'agent:worker-7',
        event: registered,
      });
    });
  });

  describe('when the agent exists', () => {
    it('rejects with AM_ERR_AGENT_EXISTS', () => {
      expectCode(decideRegisterAgent(registerAgent, givenAgent(registered)), 'AM_ERR_AGENT_EXISTS');
    });
  });

  describe('when the agent was revoked', () => {
    it('refuses the id, saying why and what to do instead', () => {
      const revoked = { type: 'AgentRevoked' as const, data: { agentId: 'worker-7', reason: 'leaked' } };
      const decision = decideRegisterAgent(registerAgent, givenAgent(registered, revoked));
      expectCode(decision, 'AM_ERR_AGENT_EXISTS');
      expect((decision as Error).message).toMatch(
        /was revoked .*ids are not reused.*new id \(e\.g\. worker-7-2\)/,
      );
    });
  });
});

describe('RevokeAgent', () => {
  describe('when the agent is active', () => {
    it('revokes it', () => {
      expect(decideRevokeAgent(revokeAgent, givenAgent(registered))).toEqual({
        kind: 'append',
        to: { kind: 'agent', agentId: 'worker-7' },
        expectedSeq: 1,
        msgId: 'revoke:worker-7',
        event: { type: 'AgentRevoked', data: { agentId: 'worker-7', reason: 'leaked' } },
      });
    });
  });

  describe('when the agent was already revoked', () => {
    it('is a no-op', () => {
      const state = givenAgent(registered, {
        type: 'AgentRevoked',
        data: { agentId: 'worker-7', reason: null },
      });
      expectNoop(decideRevokeAgent(revokeAgent, state), 2);
    });
  });

  describe('when the agent is unknown', () => {
    it('rejects with AM_ERR_AGENT_NOT_FOUND', () => {
      expectCode(decideRevokeAgent(revokeAgent, null), 'AM_ERR_AGENT_NOT_FOUND');
    });
  });
});

describe('RotateAgent', () => {
  it('gives an active agent a new token and NATS password', () => {
    expect(decideRotateAgent(rotateAgent, givenAgent(registered))).toEqual({
      kind: 'append',
      to: { kind: 'agent', agentId: 'worker-7' },
      expectedSeq: 1,
      msgId: `rotate:worker-7:${NEW_HASH}`,
      event: {
        type: 'AgentCredentialsRotated',
        data: { agentId: 'worker-7', tokenHash: NEW_HASH, natsPasswordHash: NEW_NATS_HASH },
      },
    });
  });

  it('gives an agent registered before NATS users its first NATS password', () => {
    const before = givenAgent(registeredV1);
    expect(before?.natsPasswordHash).toBeNull();
    const decision = decideRotateAgent(rotateAgent, before);
    expect(decision).toMatchObject({ kind: 'append', event: { type: 'AgentCredentialsRotated' } });
    const after = givenAgent(registeredV1, {
      type: 'AgentCredentialsRotated',
      data: { agentId: 'worker-7', tokenHash: NEW_HASH, natsPasswordHash: NEW_NATS_HASH },
    });
    expect(after).toMatchObject({ tokenHash: NEW_HASH, natsPasswordHash: NEW_NATS_HASH, status: 'active' });
  });

  it('refuses a revoked agent (AM_ERR_AGENT_REVOKED) and an unknown one', () => {
    const revoked = givenAgent(registered, {
      type: 'AgentRevoked',
      data: { agentId: 'worker-7', reason: null },
    });
    expectCode(decideRotateAgent(rotateAgent, revoked), 'AM_ERR_AGENT_REVOKED');
    expectCode(decideRotateAgent(rotateAgent, null), 'AM_ERR_AGENT_NOT_FOUND');
  });
});

describe('the agent fold', () => {
  it('records the stream sequence of the revocation (claims stored after it are void)', () => {
    const state = givenAgent(registered, {
      type: 'AgentRevoked',
      data: { agentId: 'worker-7', reason: null },
    });
    expect(state).toMatchObject({ status: 'revoked', revokedSeq: 2, lastSeq: 2 });
  });

  it('keeps a revoked agent revoked, with its old hashes, when a rotation is stored after it', () => {
    const state = givenAgent(
      registered,
      { type: 'AgentRevoked', data: { agentId: 'worker-7', reason: null } },
      {
        type: 'AgentCredentialsRotated',
        data: { agentId: 'worker-7', tokenHash: NEW_HASH, natsPasswordHash: NEW_NATS_HASH },
      },
    );
    expect(state).toMatchObject({
      status: 'revoked',
      revokedSeq: 2,
      tokenHash: HASH,
      natsPasswordHash: NATS_HASH,
    });
  });

  it('reads a stored AgentRegistered v1 as an agent without a NATS password', () => {
    const raw = {
      type: 'AgentRegistered',
      v: 1,
      actor: 'admin',
      data: { agentId: 'old', role: 'worker', tokenHash: HASH },
    };
    expect(upcast(raw, 2)).toMatchObject({
      v: 2,
      data: { agentId: 'old', tokenHash: HASH, natsPasswordHash: null },
    });
    const stored = { ...raw, id: '0190a0a0-0000-7000-8000-000000000001', at: '2026-01-01T00:00:00.000Z' };
    const decoded = decodeEvent(Buffer.from(JSON.stringify(stored)));
    if (!decoded.ok) throw new Error(`not decoded: ${decoded.reason}`);
    const state = evolveAgent(null, { seq: 5, subject: 'am.evt._sys.agent.old', event: decoded.event });
    expect(state).toMatchObject({ id: 'old', status: 'active', natsPasswordHash: null, revokedSeq: null });
  });
});
