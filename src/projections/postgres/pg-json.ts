/**
 * JSON text Postgres accepts for any value JSON.stringify can write. Postgres refuses two things JSON
 * allows, in `json`/`jsonb` values and in text: the NUL character (`\u0000`) and UTF-16 surrogates that
 * are not part of a pair (JSON.stringify escapes a lone one as `\udXXX`). One such string in an LLM's
 * output would fail its batch on every retry and stop the read model for good, so each becomes U+FFFD
 * (the replacement character) here: the stream keeps the original, the read model says a character was
 * there.
 */
export function pgJson(value: unknown): string {
  const text = JSON.stringify(value);
  // JSON.stringify escapes only control characters and lone surrogates as \uXXXX, so any such escape of
  // NUL or a surrogate is one to replace. An escape is real only after an even run of backslashes
  // (`\\u0000` is a backslash followed by the text "u0000").
  return text.includes('\\u') ? text.replace(UNSTORABLE_ESCAPE, '$1\\ufffd') : text;
}

const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/g;
