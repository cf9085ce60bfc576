/**
 * Validation messages in plain English that name what would be accepted ("is required: one of
 * run.started, run.completed"), instead of zod's defaults ("Invalid option"). A message a schema
 * sets itself still wins; this covers the rest.
 */
import { z } from '@hono/zod-openapi';
import type { core } from 'zod';

type Issue = core.$ZodRawIssue;

const ARTICLE: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'a list',
  bigint: 'an integer',
  date: 'a date',
  null: 'null',
};

function list(values: readonly unknown[]): string {
  return values.map((value) => (typeof value === 'string' ? value : JSON.stringify(value))).join(', ');
}

function sizeWord(origin: string | undefined, count: number): string {
  if (origin === 'string') return `${count} character${count === 1 ? '' : 's'}`;
  if (origin === 'array' || origin === 'set') return `${count} item${count === 1 ? '' : 's'}`;
  return String(count);
}

export function plainMessage(issue: Issue): string | undefined {
  const missing = issue.input === undefined;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = ARTICLE[issue.expected] ?? issue.expected;
      return missing ? `is required: ${expected}` : `must be ${expected}`;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${list(issue.values)}`
        : `${missing ? 'is required: ' : 'must be '}one of ${list(issue.values)}`;
    case 'too_small': {
      const minimum = Number(issue.minimum);
      if (issue.origin === 'string' && minimum === 1) return 'must not be empty';
      if (issue.origin === 'array' && minimum === 1) return 'must list at least one item';
      return issue.origin === 'string' || issue.origin === 'array'
        ? `must have at least ${sizeWord(issue.origin, minimum)}`
        : `must be at least ${minimum}`;
    }
    case 'too_big': {
      const maximum = Number(issue.maximum);
      return issue.origin === 'string' || issue.origin === 'array'
        ? `must have at most ${sizeWord(issue.origin, maximum)}`
        : `must be at most ${maximum}`;
    }
    case 'invalid_format':
      return `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      return 'is not in any of the accepted forms';
    default:
      return undefined;
  }
}

let installed = false;

/** Makes plainMessage zod's fallback for every schema of this process; idempotent. */
export function installPlainErrors(): void {
  if (installed) return;
  installed = true;
  z.config({ customError: plainMessage });
}
