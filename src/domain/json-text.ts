/**
 * Finding a member's value in JSON text without re-serialising it, so a payload reaches receivers
 * byte for byte as the sender wrote it (key order, spacing, number spelling). Pure.
 */

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/** Index just past the JSON value starting at `start` (which must be a valid value's first character). */
function skipValue(text: string, start: number): number {
  const first = text[start];
  if (first === '"') {
    let i = start + 1;
    while (i < text.length) {
      const char = text[i];
      if (char === '\\') i += 2;
      else if (char === '"') return i + 1;
      else i++;
    }
    throw new Error('unterminated string');
  }
  if (first === '{' || first === '[') {
    let depth = 0;
    let i = start;
    while (i < text.length) {
      const char = text[i];
      if (char === '"') {
        i = skipValue(text, i);
        continue;
      }
      if (char === '{' || char === '[') depth++;
      else if (char === '}' || char === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw new Error('unterminated container');
  }
  // A literal or a number: up to the next delimiter.
  let i = start;
  while (i < text.length && !WHITESPACE.has(text[i] as string) && text[i] !== ',' && text[i] !== '}' && text[i] !== ']') i++;
  return i;
}

function skipWhitespace(text: string, at: number): number {
  let i = at;
  while (i < text.length && WHITESPACE.has(text[i] as string)) i++;
  return i;
}

/**
 * The exact text of a top-level member's value in a JSON object's text, or null when the object has
 * no such member. `text` must already be known to be valid JSON (parse it first). With a duplicated
 * key, the last one wins, as in JSON.parse.
 */
export function memberText(text: string, name: string): string | null {
  let i = skipWhitespace(text, 0);
  if (text[i] !== '{') return null;
  i = skipWhitespace(text, i + 1);
  let found: string | null = null;
  while (i < text.length && text[i] !== '}') {
    const keyEnd = skipValue(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWhitespace(text, keyEnd);
    i = skipWhitespace(text, i + 1); // past ':'
    const valueEnd = skipValue(text, i);
    if (key === name) found = text.slice(i, valueEnd);
    i = skipWhitespace(text, valueEnd);
    if (text[i] === ',') i = skipWhitespace(text, i + 1);
  }
  return found;
}
