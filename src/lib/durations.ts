const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses `250ms`, `5s`, `30m`, `2h`, `1d` into milliseconds; null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const match = DURATION.exec(text.trim());
  if (!match) return null;
  const ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** Parses a comma list of durations; an empty or blank text is an empty list. Null when any item is bad. */
export function parseDurationList(text: string): number[] | null {
  if (text.trim() === '') return [];
  const items = text.split(',').map(parseDuration);
  return items.every((ms): ms is number => ms !== null) ? items : null;
}
