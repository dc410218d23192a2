/**
 * The shape of the source, checked: no import cycle anywhere in `src/`, and
 * the runtime adapters reach the core only through the adapter contract
 * (`src/adapter/`), so that an adapter can be written outside the project;
 * and `switchboard/client` takes from the core only the pure wire modules and
 * the argument checks, so that its browser bundle stays small and
 * dependency-free.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Relative imports of a file, resolved, static and dynamic, type-only included. */
function importsOf(file: string): string[] {
  // Code only: JSDoc examples import too, but they are no part of the module.
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*)"(\.[^"]+)"/g)].map((m) => m[1]!);
  return specifiers.map((specifier) => resolve(dirname(file), specifier));
}

const files = sourceFiles(src);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const name = (file: string) => relative(root, file);

describe("architecture", () => {
  test("src/ has no import cycle (type-only imports count too)", () => {
    const state = new Map<string, "visiting" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        cycles.push([...path.slice(path.indexOf(file)), file].map(name).join(" -> "));
        return;
      }
      state.set(file, "visiting");
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of files) visit(file, []);
    assert.deepEqual(cycles, []);
    assert.ok(files.length > 20, `read ${files.length} files`);
  });

  test("the Bun, Deno and Node adapters import from the core only through src/adapter", () => {
    const adapters = files.filter((file) => /src\/adapters\/(bun|deno|node)\//.test(file));
    assert.ok(adapters.length >= 6, `read ${adapters.length} adapter files`);
    const reaching = adapters.flatMap((file) =>
      graph.get(file)!.filter((target) => target.startsWith(join(src, "core"))).map((target) => `${name(file)} -> ${name(target)}`)
    );
    assert.deepEqual(reaching, []);
  });
  test("switchboard/client imports nothing of src/ but itself, the pure wire modules, the argument checks and the protocol's types", () => {
    const client = files.filter((file) => file.startsWith(join(src, "client")));
    assert.ok(client.length >= 8, `read ${client.length} client files`);
    const wire = [
      ...["frames.ts", "resume.ts", "close-class.ts"].map((f) => join(src, "core", "wire", f)),
      ...["_check.ts", "close-codes.ts"].map((f) => join(src, "core", f)),
      // Types only (imported with `import type`), and itself importing nothing: checked just below.
      join(src, "protocol", "types.ts"),
    ];
    const reaching = client.flatMap((file) =>
      graph.get(file)!.filter((target) => !target.startsWith(join(src, "client")) && !wire.includes(target))
        .map((target) => `${name(file)} -> ${name(target)}`)
    );
    assert.deepEqual(reaching, []);
    // What the client takes in of the core must stay dependency-free itself.
    const wireReaching = wire.flatMap((file) => graph.get(file)!.filter((t) => !wire.includes(t)).map((t) => `${name(file)} -> ${name(t)}`));
    assert.deepEqual(wireReaching, []);
  });
});
