import { copyFile } from "node:fs/promises";
import { defineConfig } from "tsup";

// One entry per public subpath; the keys name the files in dist/ that package.json exports.
export default defineConfig({
  entry: {
    index: "mod.ts",
    bun: "src/adapters/bun/mod.ts",
    deno: "src/adapters/deno/mod.ts",
    node: "src/adapters/node/mod.ts",
    hono: "src/adapters/hono/mod.ts",
    adapter: "src/adapter/mod.ts",
    redis: "src/redis/mod.ts",
    client: "src/client/mod.ts",
    protocol: "src/protocol/mod.ts",
  },
  format: ["esm", "cjs"],
  dts: true,
  // Required for CJS too: without it each CJS entry carries its own copy of the core classes,
  // which breaks `instanceof` and shared state across subpaths.
  splitting: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  target: "es2022",
  platform: "neutral",
  // Dependencies and the optional peers (hono, @hono/node-server) are loaded from node_modules, never bundled.
  external: ["ws", "regexparam", "hono", "@hono/node-server", /^node:/],
  // The client's one-file browser build, committed and kept fresh by tests/client-bundle.test.ts
  // (rebuild with `npm run build:client`), ships as dist/client.browser.js for pages with no build step.
  onSuccess: () => copyFile("src/client/browser/switchboard-client.js", "dist/client.browser.js"),
});
