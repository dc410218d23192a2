/**
 * `Buffer.byteLength`, where the runtime has it as a global (Bun, Deno 2 and
 * Node do): native and several times faster than `encodeInto` on a long
 * non-ASCII text (measured on Bun and Deno). Found, not imported: the core
 * imports nothing of a runtime.
 */
const native = (globalThis as { Buffer?: { byteLength(text: string, encoding: string): number } }).Buffer;
const encoder = new TextEncoder();
/** Longer strings are measured natively; a JS loop wins on short ones. */
const NATIVE_FROM = 128;
/** Without `Buffer`, longer strings are measured a chunk of this many UTF-16 units at a time, into one scratch buffer. */
const CHUNK_UNITS = 16 * 1024;
/** Every UTF-16 unit takes at most 3 bytes of UTF-8, so a chunk always fits. */
const scratch = new Uint8Array(CHUNK_UNITS * 3);
/** Strings this long are remembered (see `lastText`). */
const REMEMBER_FROM = 1024;
/**
 * The last long string measured, remembered: an echo measures what it
 * received and then what it sends, the same string, and a broadcast of a
 * received message does too. Comparing the same string costs nothing.
 */
let lastText = "";
let lastBytes = 0;

/**
 * The UTF-8 byte length of a string, without keeping an encoded copy. Lone
 * surrogates count as the 3-byte replacement character, as `TextEncoder`
 * writes them.
 */
export function utf8ByteLength(text: string): number {
  const units = text.length;
  if (units < NATIVE_FROM) return countInJs(text);
  if (units < REMEMBER_FROM) return native ? native.byteLength(text, "utf8") : encoder.encodeInto(text, scratch).written;
  if (text === lastText) return lastBytes;
  lastBytes = native ? native.byteLength(text, "utf8") : utf8ByteLengthByChunks(text);
  lastText = text;
  return lastBytes;
}

/** The UTF-8 length by `encodeInto`, a chunk at a time: for runtimes without `Buffer` (Workers). */
export function utf8ByteLengthByChunks(text: string): number {
  const units = text.length;
  let bytes = 0;
  for (let start = 0; start < units;) {
    let end = Math.min(start + CHUNK_UNITS, units);
    // A chunk must not end between the two halves of a surrogate pair: each would count as 3 bytes.
    const last = text.charCodeAt(end - 1);
    if (end < units && last >= 0xd800 && last <= 0xdbff) end--;
    bytes += encoder.encodeInto(text.slice(start, end), scratch).written;
    start = end;
  }
  return bytes;
}

function countInJs(text: string): number {
  const units = text.length;
  let bytes = units;
  for (let i = 0; i < units; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
    } else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < units) {
      const next = text.charCodeAt(i + 1);
      // A valid pair is 4 bytes for 2 units; a lone high surrogate is 3 bytes.
      bytes += 2;
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}
