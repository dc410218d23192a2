const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const CODES: number[] = Array.from(ALPHABET, (c) => c.charCodeAt(0));
const CONNECTION_ID_LENGTH = 22; // 22 × 6 bits = 132 bits, more randomness than a UUID's 122
const EPOCH_LENGTH = 12; // 72 bits: epochs of one room never meet by chance
const pool = new Uint8Array(CONNECTION_ID_LENGTH * 128);
const chars: number[] = new Array(CONNECTION_ID_LENGTH).fill(0);
let offset = pool.length;

/**
 * `length` random base64url characters. Random bytes are drawn in batches,
 * and the string is built flat in one call: `+=` would leave a chain of
 * string pieces, and Node's `crypto.randomUUID()` returns a string of 14
 * concatenated parts, about 450 bytes of heap for as long as it is kept.
 */
function randomString(length: number): string {
  if (offset + length > pool.length) {
    crypto.getRandomValues(pool);
    offset = 0;
  }
  chars.length = length;
  for (let i = 0; i < length; i++) chars[i] = CODES[pool[offset++]! & 63]!;
  return String.fromCharCode(...chars);
}

/** A random, URL-safe connection id: 22 characters of base64url. */
export function connectionId(): string {
  return randomString(CONNECTION_ID_LENGTH);
}

/** A random, URL-safe history epoch: 12 characters of base64url. */
export function newEpoch(): string {
  return randomString(EPOCH_LENGTH);
}
