const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const CODES: number[] = Array.from(ALPHABET, (c) => c.charCodeAt(0));
const ID_LENGTH = 22; // 22 × 6 bits = 132 bits, more randomness than a UUID's 122
const pool = new Uint8Array(ID_LENGTH * 128);
const chars: number[] = new Array(ID_LENGTH).fill(0);
let offset = pool.length;

/**
 * A random, URL-safe connection id: 22 characters of base64url. Random bytes
 * are drawn in batches, and the id is built as one flat string (Node's
 * `crypto.randomUUID()` returns a string of 14 concatenated parts, about
 * 450 bytes of heap for as long as the connection lives).
 */
export function connectionId(): string {
  if (offset + ID_LENGTH > pool.length) {
    crypto.getRandomValues(pool);
    offset = 0;
  }
  for (let i = 0; i < ID_LENGTH; i++) chars[i] = CODES[pool[offset++]! & 63]!;
  // One call builds one flat string; `+=` would leave a chain of 22 string pieces.
  return String.fromCharCode(...chars);
}
