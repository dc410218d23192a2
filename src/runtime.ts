/**
 * The runtime this code runs on. Bun is checked first: it also defines
 * `process`, and Deno's Node compatibility does too, so `process` tells nothing.
 */
export function currentRuntime(): "bun" | "deno" | "node" {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  return "node";
}
