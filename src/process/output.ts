/**
 * Lines for people (the start banner, the generated admin key, one-line failures). They go through
 * the same guarded writes as the logs: never a throw, never a hang on a closed or stuck pipe.
 */
import { guardedOutput } from '../lib/logger.ts';

export function say(line: string): void {
  guardedOutput(process.stdout).write(`${line}\n`);
}

export function fail(line: string): void {
  guardedOutput(process.stderr).write(`orbit: ${line}\n`);
}

/** An error as one line: its message (or, for errors that have none, its code or inner errors). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  let text = error.message;
  if (text === '' && error instanceof AggregateError) {
    text = error.errors.map((inner: unknown) => (inner instanceof Error ? inner.message : String(inner))).join('; ');
  }
  const code = (error as { code?: unknown }).code;
  if (text === '' && typeof code === 'string') text = code;
  return (text || error.name).replace(/\s+/g, ' ').trim();
}
