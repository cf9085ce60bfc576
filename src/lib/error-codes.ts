/**
 * The `code` fields along an error's cause chain, outermost first: drizzle wraps the driver's
 * error, so a PostgreSQL SQLSTATE or a socket error code sits on a cause.
 */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let cause: unknown = error, depth = 0; cause && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    cause = (cause as { cause?: unknown }).cause;
  }
  return codes;
}
