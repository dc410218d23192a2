// The usage text of a bench script for --help: the `//` comment block at its top, below its
// `#!` line, so that the text lives once, in the script it describes.
import { readFileSync } from "node:fs";

/** The `//` comment block that follows the `#!` line of the file at `moduleUrl`, without the slashes. */
export function usageOf(moduleUrl) {
  const rest = readFileSync(new URL(moduleUrl), "utf8").split("\n").slice(1).join("\n");
  return rest.split(/\n(?!\/\/)/)[0].replace(/^\/\/ ?/gm, "");
}
