/**
 * Fails when src/db/schema.ts and the committed migrations disagree: drizzle-kit generates what the
 * schema would need, and any new change under migrations/ means a migration was not generated.
 * Run `npm run db:generate` and commit the new migration to fix it.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (command: string, args: string[]): string => execFileSync(command, args, { cwd: root, encoding: 'utf8' });

const status = (): string => run('git', ['status', '--porcelain', '--untracked-files=all', '--', 'migrations']).trim();
// Compared with the state before, so a migration being written (not committed yet) is not drift.
const before = status();
run('npx', ['drizzle-kit', 'generate']);
const after = status();
if (after !== before) {
  const drift = after
    .split('\n')
    .filter((line) => !before.split('\n').includes(line))
    .join('\n');
  process.stderr.write(
    `The database schema (src/db/schema.ts) has changes without a migration:\n${drift}\n` +
      'Generate one with `npm run db:generate`, review it and commit it.\n',
  );
  process.exit(1);
}
process.stdout.write('migrations match the schema\n');
