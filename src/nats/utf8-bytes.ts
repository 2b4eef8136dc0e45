/**
 * A string's UTF-8 bytes, for the hot paths (events, replies, requests). On Node 20 `TextEncoder.encode`
 * costs about 2 µs for a few hundred bytes, because each call goes through C++ and gets an ArrayBuffer
 * of its own; `Buffer.from` cuts small strings from a shared pool in about 0.3 µs. A Buffer is a
 * Uint8Array, so callers and nats.js see no difference.
 */
export function utf8Bytes(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}
