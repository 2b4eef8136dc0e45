import { describe, expect, it } from 'vitest';
import { ClaimIndex } from '../../../src/projections/claim-index.ts';

const claim = (token: string, requestId = `r${token}`, agentId = 'w1') => ({ token, requestId, agentId });

describe('ClaimIndex', () => {
  describe('given a claimed task', () => {
    it('finds it by its request and by its token', () => {
      const index = new ClaimIndex();
      index.set('g1', 't1', claim('10'));
      expect(index.byRequest('w1', 'r10')).toEqual({ graph_id: 'g1', id: 't1' });
      expect(index.byToken('10')).toEqual({ graph_id: 'g1', id: 't1' });
      expect(index.byRequest('w2', 'r10')).toBeUndefined();
    });
  });

  describe('when the claim ends', () => {
    it('forgets both keys', () => {
      const index = new ClaimIndex();
      index.set('g1', 't1', claim('10'));
      index.set('g1', 't1', null);
      expect(index.byRequest('w1', 'r10')).toBeUndefined();
      expect(index.byToken('10')).toBeUndefined();
      expect(index.size).toBe(0);
    });
  });

  describe('when the task is claimed again', () => {
    it('answers only for the new claim', () => {
      const index = new ClaimIndex();
      index.set('g1', 't1', claim('10'));
      index.set('g1', 't1', claim('12', 'other', 'w2'));
      expect(index.byToken('10')).toBeUndefined();
      expect(index.byRequest('w1', 'r10')).toBeUndefined();
      expect(index.byRequest('w2', 'other')).toEqual({ graph_id: 'g1', id: 't1' });
      expect(index.size).toBe(1);
    });
  });

  describe('tasks of different graphs with the same id', () => {
    it('are kept apart', () => {
      const index = new ClaimIndex();
      index.set('g1', 't1', claim('10'));
      index.set('g2', 't1', claim('11'));
      index.set('g1', 't1', null);
      expect(index.byToken('11')).toEqual({ graph_id: 'g2', id: 't1' });
      expect(index.size).toBe(1);
    });
  });
});
