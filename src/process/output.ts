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

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

export function urlOf(address: { address: string; port: number }): string {
  const host = address.address.includes(':') && !address.address.startsWith('[') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** The address as bound; a wildcard says so and names the address to open in a browser. */
export function describeAddress(address: { address: string; port: number }): string {
  if (!WILDCARDS.has(address.address)) return urlOf(address);
  return `${urlOf(address)} (all interfaces; open http://localhost:${address.port})`;
}
