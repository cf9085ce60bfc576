/**
 * Writes the README's configuration table from src/config.ts's VARIABLES, between its two marker
 * comments. `npm run docs:config`; test/unit/config.test.ts fails while the README is not current.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configurationTable } from '../src/config.ts';
import { replaceConfigTable } from './lib/readme-config.ts';

const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const before = readFileSync(readme, 'utf8');
const after = replaceConfigTable(before, configurationTable());
if (after !== before) writeFileSync(readme, after);
process.stdout.write(after === before ? 'README.md: the configuration table is current\n' : 'README.md: configuration table written\n');
