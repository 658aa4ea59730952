import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import { build } from "esbuild";

/** The package's source directory, from dist/test/. */
const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/** Bundles `exports` of the main entry for browsers, minified; returns bytes min+gzip. */
async function bundledSize(exports: string): Promise<number> {
  const result = await build({
    stdin: { contents: exports === "*" ? `export * from "./index.ts";` : `export { ${exports} } from "./index.ts";`, resolveDir: SRC, loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    // Fails on any Node built-in: the main entry must run in browsers.
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.contents;
  assert.ok(code !== undefined);
  return gzipSync(code, { level: 9 }).length;
}

test("browser bundles: client mode stays within 10 KB min+gzip", async (t) => {
  const client = await bundledSize("HalyardBrowserClient");
  const server = await bundledSize("HalyardClient");
  const everything = await bundledSize("*");
  t.diagnostic(`HalyardBrowserClient (client mode): ${client} B min+gzip`);
  t.diagnostic(`HalyardClient (local evaluation and sync): ${server} B min+gzip`);
  t.diagnostic(`the whole main entry: ${everything} B min+gzip`);
  assert.ok(client <= 10 * 1024, `client mode is ${client} B min+gzip, over 10 KB`);
});
