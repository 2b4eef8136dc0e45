import { z } from 'zod';
import { type Tool, ToolError } from './registry.ts';

/** Thrown for a malformed expression; `position` is the 0-based offset where parsing stopped. */
export class CalculatorError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.name = 'CalculatorError';
    this.position = position;
  }
}

type Token =
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'op'; value: '+' | '-' | '*' | '/' | '^' | '%'; pos: number }
  | { kind: 'paren'; value: '(' | ')'; pos: number }
  | { kind: 'end'; pos: number };

const MAX_EXPRESSION_CHARS = 1_000;
/** Bounds recursion so a pathological `((((…` cannot overflow the stack. */
const MAX_DEPTH = 200;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (/[0-9.]/.test(ch)) {
      const match = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(source.slice(i));
      if (!match) throw new CalculatorError(`malformed number`, i);
      tokens.push({ kind: 'number', value: Number(match[0]), pos: i });
      i += match[0].length;
      continue;
    }
    if (ch === '+' || ch === '-' || ch === '*' || ch === '/' || ch === '^' || ch === '%') {
      tokens.push({ kind: 'op', value: ch, pos: i });
      i++;
      continue;
    }
    if (ch === '(' || ch === ')') {
      tokens.push({ kind: 'paren', value: ch, pos: i });
      i++;
      continue;
    }
    throw new CalculatorError(`unexpected character "${ch}"`, i);
  }
  tokens.push({ kind: 'end', pos: source.length });
  return tokens;
}

/**
 * Evaluates an arithmetic expression with a recursive-descent parser (never eval):
 *
 *     expr    := term (('+' | '-') term)*
 *     term    := unary (('*' | '/' | '%') unary)*
 *     unary   := ('-' | '+') unary | power
 *     power   := primary ('^' unary)?        right-associative; -2^2 = -(2^2)
 *     primary := number | '(' expr ')'
 *
 * `%` is the remainder. Division or remainder by zero and non-finite results are errors.
 */
export function evaluateExpression(source: string): number {
  if (source.length > MAX_EXPRESSION_CHARS) {
    throw new CalculatorError(`expression longer than ${MAX_EXPRESSION_CHARS} characters`, 0);
  }
  const tokens = tokenize(source);
  let index = 0;
  const peek = (): Token => tokens[index]!;
  const next = (): Token => tokens[index++]!;

  const expr = (depth: number): number => {
    let value = term(depth);
    for (;;) {
      const token = peek();
      if (token.kind !== 'op' || (token.value !== '+' && token.value !== '-')) return value;
      next();
      const right = term(depth);
      value = token.value === '+' ? value + right : value - right;
    }
  };

  const term = (depth: number): number => {
    let value = unary(depth);
    for (;;) {
      const token = peek();
      if (token.kind !== 'op' || (token.value !== '*' && token.value !== '/' && token.value !== '%')) {
        return value;
      }
      next();
      const right = unary(depth);
      if ((token.value === '/' || token.value === '%') && right === 0) {
        throw new CalculatorError(token.value === '/' ? 'division by zero' : 'remainder by zero', token.pos);
      }
      value = token.value === '*' ? value * right : token.value === '/' ? value / right : value % right;
    }
  };

  const unary = (depth: number): number => {
    if (depth > MAX_DEPTH) throw new CalculatorError('expression nested too deeply', peek().pos);
    const token = peek();
    if (token.kind === 'op' && (token.value === '-' || token.value === '+')) {
      next();
      const value = unary(depth + 1);
      return token.value === '-' ? -value : value;
    }
    return power(depth);
  };

  const power = (depth: number): number => {
    const base = primary(depth);
    const token = peek();
    if (token.kind === 'op' && token.value === '^') {
      next();
      return base ** unary(depth + 1);
    }
    return base;
  };

  const primary = (depth: number): number => {
    const token = next();
    switch (token.kind) {
      case 'number':
        return token.value;
      case 'paren': {
        if (token.value === ')') throw new CalculatorError('unexpected ")"', token.pos);
        const value = expr(depth + 1);
        const close = next();
        if (close.kind !== 'paren' || close.value !== ')') {
          throw new CalculatorError('expected ")"', close.pos);
        }
        return value;
      }
      case 'op':
        throw new CalculatorError(`unexpected operator "${token.value}"`, token.pos);
      case 'end':
        throw new CalculatorError('unexpected end of expression', token.pos);
      default: {
        const unreachable: never = token;
        return unreachable;
      }
    }
  };

  const value = expr(0);
  const rest = peek();
  if (rest.kind !== 'end') throw new CalculatorError('unexpected input after the expression', rest.pos);
  if (!Number.isFinite(value)) throw new CalculatorError('the result is not a finite number', 0);
  return value;
}

/** 12 significant digits hide binary noise (0.1 + 0.2 = 0.3) without losing real precision. */
export function formatNumber(value: number): string {
  const rounded = Number(value.toPrecision(12));
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

export const CalculatorInputSchema = z.object({ expression: z.string().min(1) });

export const calculatorTool: Tool<z.infer<typeof CalculatorInputSchema>> = {
  name: 'calculator',
  description:
    'Evaluates an arithmetic expression: + - * / ^ (power) % (remainder), parentheses, unary minus, decimals. Input {"expression": "2 * (3 + 4)"}.',
  inputSchema: CalculatorInputSchema,
  run({ expression }) {
    try {
      return formatNumber(evaluateExpression(expression));
    } catch (error) {
      if (error instanceof CalculatorError) throw new ToolError(error.message);
      throw error;
    }
  },
};
