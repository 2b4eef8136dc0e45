import { evaluateExpression } from '../tools/calculator.ts';

/** The model name every offline artefact carries, so its output is never mistaken for an LLM's. */
export const OFFLINE_MODEL = 'offline';
/** Version of the rules in docs/offline-provider.md; bump it when they change. */
export const OFFLINE_RULES_VERSION = 'offline-rules-1';

/** Always a bad output (case-sensitive). */
export const BAD_MARKER = '[[BAD]]';
/** A bad output in audit cycle 1 only. */
export const BAD_ONCE_MARKER = '[[BAD-ONCE]]';

export function removeMarkers(text: string): string {
  return text.split(BAD_ONCE_MARKER).join('').split(BAD_MARKER).join('');
}

/** FNV-1a 32-bit: a stable hash so every offline choice is a pure function of its input text. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Words too common to show that an output addresses its task. */
const STOPWORDS = new Set(
  (
    'about above after again against also because been before being below between both could does doing down during ' +
    'each every from further have having here into itself just like make more most much must only other over same ' +
    'should some such than that their them then there these they this those through under until very what when where ' +
    'which while with would your yours the and for are but not you all any can had her was one our out has his how ' +
    'its may new now see two who did get let put say she too use task tasks please give write report'
  ).split(' '),
);

/**
 * The words that show an output is about its task: lower-cased runs of letters and digits of at
 * least 4 characters, not pure numbers, not stopwords, first occurrence order.
 */
export function keywords(text: string): string[] {
  const words =
    removeMarkers(text)
      .toLowerCase()
      .match(/[a-z0-9]+/g) ?? [];
  const seen = new Set<string>();
  for (const word of words) {
    if (word.length < 4 || /^[0-9]+$/.test(word) || STOPWORDS.has(word)) continue;
    seen.add(word);
  }
  return [...seen];
}

/** The lower-cased words of a text, for "does the output mention this keyword". */
export function wordSet(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[a-z0-9]+/g) ?? []);
}

/**
 * The first arithmetic expression in a text: a maximal run of digits, spaces, `.`, `+ - * / ^ %`
 * and parentheses that has a binary operator between two operands and that the calculator can
 * evaluate (unbalanced outer parentheses are trimmed first). Null when there is none.
 */
export function findExpression(text: string): string | null {
  const runs = removeMarkers(text).match(/[0-9.+\-*/^%()\s]+/g) ?? [];
  for (const run of runs) {
    const candidate = trimParens(run.trim());
    if (!/[0-9.]\s*\)*\s*[-+*/^%]\s*[-+(\s]*[0-9.]/.test(candidate)) continue;
    try {
      evaluateExpression(candidate);
      return candidate;
    } catch {
      // Not an expression after all (e.g. "1.2.3 - ."): keep looking.
    }
  }
  return null;
}

function trimParens(text: string): string {
  let s = text;
  for (;;) {
    const open = (s.match(/\(/g) ?? []).length;
    const close = (s.match(/\)/g) ?? []).length;
    if (close > open && s.endsWith(')')) s = s.slice(0, -1).trim();
    else if (open > close && s.startsWith('(')) s = s.slice(1).trim();
    else return s;
  }
}

/** Whitespace collapsed and cut to `max` characters with an ellipsis. */
export function excerpt(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
