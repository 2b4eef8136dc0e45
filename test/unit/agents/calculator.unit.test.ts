import { describe, expect, it } from 'vitest';
import { CalculatorError, calculatorTool, evaluateExpression } from '../../../src/agents/tools/calculator.ts';

describe('evaluateExpression', () => {
  describe('precedence and associativity', () => {
    it.each([
      ['1 + 2 * 3', 7],
      ['(1 + 2) * 3', 9],
      ['10 - 4 - 3', 3],
      ['100 / 10 / 5', 2],
      ['2 ^ 3 ^ 2', 512],
      ['-2 ^ 2', -4],
      ['(-2) ^ 2', 4],
      ['2 ^ -1', 0.5],
      ['17 % 5 * 2', 4],
      ['7 + 17 % 5', 9],
      ['--3', 3],
      ['-(2 + 3) * 4', -20],
      ['+4 - -2', 6],
      ['1.5 * .5', 0.75],
      ['3.', 3],
      ['2 * 3 + 4 * 5 ^ 2', 106],
      ['((((7))))', 7],
      ['12 * (3 + 4) - 5', 79],
    ])('evaluates %s to %d', (expression, expected) => {
      expect(evaluateExpression(expression)).toBe(expected);
    });
  });

  describe('when the expression is malformed', () => {
    it.each([
      ['', 'unexpected end of expression'],
      ['1 +', 'unexpected end of expression'],
      ['(1 + 2', 'expected ")"'],
      ['1 + 2)', 'unexpected input after the expression'],
      ['2 * * 3', 'unexpected operator "*"'],
      ['2 x 3', 'unexpected character "x"'],
      ['1 / 0', 'division by zero'],
      ['5 % 0', 'remainder by zero'],
      ['1 2', 'unexpected input after the expression'],
      [')', 'unexpected ")"'],
    ])('rejects %j with a CalculatorError (%s)', (expression, message) => {
      expect(() => evaluateExpression(expression)).toThrow(CalculatorError);
      expect(() => evaluateExpression(expression)).toThrow(message);
    });

    it('reports where parsing stopped', () => {
      try {
        evaluateExpression('1 + 2 $ 3');
        expect.unreachable();
      } catch (error) {
        expect((error as CalculatorError).position).toBe(6);
      }
    });

    it('rejects a result that is not finite', () => {
      expect(() => evaluateExpression('10 ^ 400')).toThrow('not a finite number');
    });

    it('rejects nesting deeper than its recursion bound instead of overflowing the stack', () => {
      expect(() => evaluateExpression(`${'('.repeat(400)}1${')'.repeat(400)}`)).toThrow('nested too deeply');
    });

    it('does not evaluate JavaScript', () => {
      expect(() => evaluateExpression('process.exit(1)')).toThrow(CalculatorError);
      expect(() => evaluateExpression('constructor')).toThrow(CalculatorError);
    });
  });
});

describe('calculatorTool', () => {
  const ctx = {
    task: {
      id: 't',
      graphId: 'g',
      title: 't',
      instructions: '',
      kind: 'work' as const,
      attempt: 1,
      cycle: 1,
    },
    context: { goal: 'g', dependencies: [] },
  };

  it('formats results without binary noise', async () => {
    expect(await calculatorTool.run({ expression: '0.1 + 0.2' }, ctx)).toBe('0.3');
  });

  it('throws a tool error naming the problem for a bad expression', async () => {
    await expect(async () => calculatorTool.run({ expression: '1 / 0' }, ctx)).rejects.toThrow(
      'division by zero at position 2',
    );
  });
});
