import { describe, expect, it } from 'vitest';
import { decideRegisterAgent, type RegisterAgent } from '../../../src/commands/register-agent.ts';
import { decideRevokeAgent, type RevokeAgent } from '../../../src/commands/revoke-agent.ts';
import { ADMIN, expectCode, expectNoop, givenAgent, meta } from './given.ts';

const HASH = 'a'.repeat(64);
const registerAgent: RegisterAgent = {
  type: 'RegisterAgent',
  data: { agentId: 'worker-7', role: 'worker', tokenHash: HASH },
  metadata: meta(undefined, ADMIN),
};
const revokeAgent: RevokeAgent = {
  type: 'RevokeAgent',
  data: { agentId: 'worker-7', reason: 'leaked' },
  metadata: meta(undefined, ADMIN),
};
const registered = {
  type: 'AgentRegistered',
  data: { agentId: 'worker-7', role: 'worker', tokenHash: HASH },
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
