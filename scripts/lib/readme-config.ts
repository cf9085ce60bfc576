/** The README's generated configuration table sits between these two lines. */
export const TABLE_START = '<!-- configuration table: written by npm run docs:config from src/config.ts -->';
export const TABLE_END = '<!-- end of configuration table -->';

/** The README with its configuration table replaced; throws when the markers are missing. */
export function replaceConfigTable(readme: string, table: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md needs the lines ${TABLE_START} and ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${table}\n${readme.slice(end)}`;
}
