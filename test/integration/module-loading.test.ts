import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('../support/module-hooks-child.ts', import.meta.url));

describe('the module-loading hook (src/process/module-loading.ts)', () => {
  it("answers every drizzle-orm import it takes over exactly as Node's resolver does", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CHILD], { timeout: 60_000 });
    const result = JSON.parse(stdout) as { checked: number; mismatches: unknown[] };
    expect(result.mismatches).toEqual([]);
    // drizzle-orm's modules, loaded by relative imports: the hook must actually see them.
    expect(result.checked).toBeGreaterThan(100);
  });
});
