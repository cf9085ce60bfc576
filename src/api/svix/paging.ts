/**
 * Svix's list paging and the query values its SDKs send: `limit` (1..250, default 50), `iterator`
 * (a key; `-key` pages back), `order`, dates as ISO 8601, booleans as `true`/`false`, lists joined
 * with commas.
 */
import { z } from '@hono/zod-openapi';
import { isMomentInRange, PAGE_SIZE } from '../../domain/limits.ts';
import {
  CHANNEL,
  CHANNEL_MAX,
  CHANNEL_RULE,
  LIMITED_STRING,
  LIMITED_STRING_MAX,
  LIMITED_STRING_RULE,
  type ListPage,
} from '../../domain/svix.ts';

const ITERATOR = /^-?[a-zA-Z0-9\-_.]{1,256}$/;

export const pagingQuery = {
  limit: z
    .string()
    .regex(/^\d{1,6}$/, `must be an integer from 1 to ${PAGE_SIZE.max}`)
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(PAGE_SIZE.max, `Given limit must not exceed ${PAGE_SIZE.max}`))
    .optional()
    .openapi({ type: 'integer', minimum: 1, maximum: PAGE_SIZE.max, default: PAGE_SIZE.default, description: 'page size' }),
  iterator: z
    .string()
    .regex(ITERATOR, 'must be the iterator (or prevIterator) of a previous page')
    .optional()
    .openapi({ description: 'the `iterator` of the previous page, or its `prevIterator` to page back' }),
};

export const orderQuery = {
  order: z.enum(['ascending', 'descending']).optional().openapi({ description: 'the sorting order' }),
};

/** The page a list query asks for; `defaultAscending` is the resource's order when none is given. */
export function pageOf(
  query: { limit?: number | undefined; iterator?: string | undefined; order?: 'ascending' | 'descending' | undefined },
  defaultAscending: boolean,
  options: { forwardFromStart?: boolean } = {},
): ListPage {
  const iterator = query.iterator ?? null;
  const previous = iterator !== null ? iterator.startsWith('-') : options.forwardFromStart === true;
  return {
    limit: query.limit ?? PAGE_SIZE.default,
    iterator: iterator === null ? null : iterator.replace(/^-/, ''),
    previous,
    ascending: query.order === undefined ? defaultAscending : query.order === 'ascending',
  };
}

export const BooleanQuery = z
  .enum(['true', 'false'])
  .transform((value) => value === 'true')
  .optional()
  .openapi({ type: 'boolean' });

/** A date-time as the SDKs send it (ISO 8601); a bad or out-of-range one is a 422. */
export const dateTime = () =>
  z
    .string()
    .max(64)
    .transform((text, ctx) => {
      const at = new Date(Date.parse(text));
      // The moments Orbit stores (years 1 to 9999), from 1970 on as Svix takes them.
      if (at.getTime() < 0 || !isMomentInRange(at)) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be a date-time in ISO 8601 between 1970 and 9999, such as 2026-02-18T12:00:00.000Z',
        });
        return z.NEVER;
      }
      return at;
    })
    .openapi({ type: 'string', format: 'date-time' });

export const DateQuery = dateTime().optional();

/** A list of event type names, joined with commas (`event_types=a,b`) or repeated. */
export const EventTypesQuery = z
  .union([z.string(), z.array(z.string())])
  .transform((value, ctx) => {
    const names = (Array.isArray(value) ? value : [value]).flatMap((each) => each.split(',')).filter((name) => name !== '');
    for (const name of names) {
      if (name.length > LIMITED_STRING_MAX || !LIMITED_STRING.test(name)) {
        ctx.addIssue({ code: 'custom', message: `${LIMITED_STRING_RULE}: ${name.slice(0, 64)}` });
        return z.NEVER;
      }
    }
    return [...new Set(names)];
  })
  .optional()
  .openapi({ type: 'array', items: { type: 'string' }, description: 'event type names, comma-separated' });

export const ChannelQuery = z
  .string()
  .max(CHANNEL_MAX, CHANNEL_RULE)
  .regex(CHANNEL, CHANNEL_RULE)
  .optional()
  .openapi({ description: 'only messages with this channel' });

/** Svix's message status filter: 0 success, 1 pending, 2 fail, 3 sending (4 canceled matches nothing). */
export const StatusQuery = z
  .enum(['0', '1', '2', '3', '4'])
  .transform((value) => Number(value) as 0 | 1 | 2 | 3 | 4)
  .optional()
  .openapi({ type: 'integer', enum: [0, 1, 2, 3, 4] });

export const StatusCodeClassQuery = z
  .enum(['0', '100', '200', '300', '400', '500'])
  .transform(Number)
  .optional()
  .openapi({ type: 'integer', enum: [0, 100, 200, 300, 400, 500] });
