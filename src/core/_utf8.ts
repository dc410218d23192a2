const encoder = new TextEncoder();
/** Longer strings are measured natively by `encodeInto`; a JS loop wins on short ones. */
const NATIVE_FROM = 128;
/** Strings up to this many UTF-16 units are measured into the shared scratch buffer. */
const SCRATCH_UNITS = 64 * 1024;
let scratch: Uint8Array = new Uint8Array(0);

/**
 * The UTF-8 byte length of a string, without keeping an encoded copy. Lone
 * surrogates count as the 3-byte replacement character, as `TextEncoder`
 * writes them.
 */
export function utf8ByteLength(text: string): number {
  const units = text.length;
  if (units >= NATIVE_FROM && units <= SCRATCH_UNITS) {
    // Every UTF-16 unit takes at most 3 bytes, so 3 × units always fits.
    if (scratch.length < units * 3) scratch = new Uint8Array(Math.max(units * 3, 4096));
    return encoder.encodeInto(text, scratch).written;
  }
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
