/**
 * Where the shared data lives (Node tests only): $TESSERA_DATA, else ../shared/data next to the repo.
 * Tests that need a file use `describe.skipIf(!hasData(...))` and say what is missing.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const DATA_DIR = process.env.TESSERA_DATA ? resolve(process.env.TESSERA_DATA) : resolve(repoRoot, '../shared/data');

export function dataPath(...parts: string[]): string {
  return join(DATA_DIR, ...parts);
}

/** True when every path exists; otherwise warns once, naming the missing files, so the skip is explained. */
export function hasData(...paths: string[]): boolean {
  const missing = paths.filter((p) => !existsSync(dataPath(p)));
  if (missing.length > 0) {
    console.warn(`skipping: shared data missing under ${DATA_DIR} (set TESSERA_DATA): ${missing.join(', ')}`);
  }
  return missing.length === 0;
}
