/** Reads the repository's vector files (`common/tests/vectors/`). */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The vector directory, found from this file (dist/test/ or test/). */
const VECTORS = fileURLToPath(new URL("../../../../common/tests/vectors/", import.meta.url));

export function vectors<T>(file: string): T {
  return JSON.parse(readFileSync(VECTORS + file, "utf8")) as T;
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
