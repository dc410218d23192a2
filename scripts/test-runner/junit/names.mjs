// Test names: how they are joined, compared across runtimes, and printed.

/** Joins describe path and test name, in reports and in what we print. */
export const SEP = " > ";

const INVISIBLE = /[\s\u0000-\u001f\u007f-\u009f]+/g;

/** Identity used for comparison: drop whitespace and control characters, because
 *  the reporters disagree on them (Node drops newlines, Bun drops control chars,
 *  Deno writes escapes like \n and \x01). */
export function loosen(s) {
  return s.replace(INVISIBLE, "");
}

/** The identity of a test given its describe path + name. The Node 20 reporter
 *  has no file information, so the file cannot be part of it. */
export const keyOf = (segs) => loosen(segs.join(SEP));

/** Readable one-line version of a name for printing. */
export const pretty = (s) => s.replace(INVISIBLE, " ").trim();
