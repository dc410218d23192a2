// A runtime's JUnit report text -> the normalised result (see result.mjs).

import { parseXml } from "../xml.mjs";
import { fromBun } from "./bun.mjs";
import { fromDeno } from "./deno.mjs";
import { fromNode } from "./node.mjs";

/** files: the relative test paths that were run; testRoot: what they are relative to. */
export function readReport(runtime, xmlText, { files, testRoot }) {
  const doc = parseXml(xmlText);
  switch (runtime) {
    case "node":
      return fromNode(doc, files, testRoot);
    case "bun":
      return fromBun(doc, testRoot);
    case "deno":
      return fromDeno(doc, testRoot);
    default:
      throw new Error(`no JUnit reader for runtime ${runtime}`);
  }
}
