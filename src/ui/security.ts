/**
 * What every console and portal response shares: one Content-Security-Policy, no caching of pages,
 * session cookies, the flash message, and the CSRF defences of forms (a same-origin check on the
 * `Origin` header, and the session's synchroniser token in every form).
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Logger } from '../lib/logger.ts';
import type { ServiceDeps } from '../services/deps.ts';
import type { ConsoleSession, PortalSession } from '../services/ui-sessions.ts';
import type { Flash } from './layout.ts';

/** What the console and portal routes are made with. */
export interface UiDeps {
  services: ServiceDeps;
  logger: Logger;
  /**
   * Where users reach Orbit (ORBIT_PUBLIC_URL): the origin of portal links, and an origin the
   * console accepts forms from behind a proxy. Without it, the address each request came to.
   */
  publicUrl?: string | undefined;
}

export type UiEnv = {
  Variables: {
    requestId: string;
    consoleSession: ConsoleSession;
    consoleToken: string;
    portalSession: PortalSession;
    portalToken: string;
  };
};

export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

export const CONSOLE_COOKIE = 'orbit_console';
export const PORTAL_COOKIE = 'orbit_portal';
export const LOGIN_COOKIE = 'orbit_login';
const FLASH_COOKIE = 'orbit_flash';

/** Headers of every UI response, pages and assets alike. */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header('content-security-policy', CSP);
  c.header('x-content-type-options', 'nosniff');
  c.header('x-frame-options', 'DENY');
  // same-origin, not no-referrer: with no-referrer, browsers send `Origin: null` on form posts.
  c.header('referrer-policy', 'same-origin');
  c.header('cross-origin-opener-policy', 'same-origin');
  if (!c.res.headers.has('cache-control')) c.header('cache-control', 'no-store');
};

/** This machine: localhost and its subdomains, loopback and unspecified addresses. */
function isLocalHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) ||
    hostname === '0.0.0.0' ||
    hostname === '[::1]' ||
    hostname === '[::]'
  );
}

/** Plain HTTP to localhost (a developer's machine): the only case where cookies are not `Secure`. */
function plainLocalhost(c: Context): boolean {
  const url = new URL(c.req.url);
  const forwarded = c.req.header('x-forwarded-proto');
  return url.protocol === 'http:' && (forwarded === undefined || forwarded === 'http') && isLocalHost(url.hostname);
}

/** Whether a browser will keep a cookie set on this request: not over plain HTTP to a remote host. */
export function cookiesWork(c: Context): boolean {
  const url = new URL(c.req.url);
  return plainLocalhost(c) || url.protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

export function setSessionCookie(c: Context, name: string, token: string, path: string, expiresAt: Date, now: Date): void {
  setCookie(c, name, token, {
    path,
    httpOnly: true,
    sameSite: 'Strict',
    secure: !plainLocalhost(c),
    maxAge: Math.max(1, Math.floor((expiresAt.getTime() - now.getTime()) / 1000)),
  });
}

export function clearCookie(c: Context, name: string, path: string): void {
  deleteCookie(c, name, { path, httpOnly: true, sameSite: 'Strict', secure: !plainLocalhost(c) });
}

export const readCookie = (c: Context, name: string): string | undefined => getCookie(c, name);

// ---- flash messages: one message carried across a redirect -------------------------------------

export function setFlash(c: Context, flash: Flash): void {
  const value = Buffer.from(JSON.stringify(flash), 'utf8').toString('base64url');
  setCookie(c, FLASH_COOKIE, value, { path: '/', httpOnly: true, sameSite: 'Strict', secure: !plainLocalhost(c), maxAge: 60 });
}

/** The flash message of this request, if any; it is shown once. */
export function takeFlash(c: Context): Flash | null {
  const value = getCookie(c, FLASH_COOKIE);
  if (value === undefined) return null;
  deleteCookie(c, FLASH_COOKIE, { path: '/', httpOnly: true, sameSite: 'Strict', secure: !plainLocalhost(c) });
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<Flash>;
    if ((parsed.tone !== 'ok' && parsed.tone !== 'bad') || typeof parsed.text !== 'string') return null;
    const flash: Flash = { tone: parsed.tone, text: parsed.text.slice(0, 500) };
    const retry = parsed.retry;
    if (
      retry !== undefined &&
      Number.isInteger(retry.after) &&
      retry.after >= 0 &&
      Number.isInteger(retry.awaiting) &&
      retry.awaiting >= 1 &&
      retry.awaiting <= 1000
    ) {
      flash.retry = { after: retry.after, awaiting: retry.awaiting };
    }
    return flash;
  } catch {
    return null;
  }
}

// ---- requests ---------------------------------------------------------------------------------

/**
 * Whether a state-changing request comes from one of Orbit's own pages: its `Origin` (or, when a
 * browser sends none, its `Referer`) is the public URL's origin or the address the request came to.
 */
export function sameOrigin(c: Context, publicUrl: string | undefined): boolean {
  const allowed = new Set<string>([new URL(c.req.url).origin]);
  if (publicUrl) allowed.add(new URL(publicUrl).origin);
  const forwardedHost = c.req.header('x-forwarded-host') ?? c.req.header('host');
  const forwardedProto = c.req.header('x-forwarded-proto');
  if (forwardedHost && forwardedProto) allowed.add(`${forwardedProto}://${forwardedHost}`);
  const origin = c.req.header('origin');
  if (origin !== undefined) return allowed.has(origin);
  const referer = c.req.header('referer');
  if (referer === undefined || !URL.canParse(referer)) return false;
  return allowed.has(new URL(referer).origin);
}

/**
 * Who a sign-in comes from, as its rate limit counts it: `client` is the peer address with the
 * nearest proxy's `X-Forwarded-For` entry (so clients behind one proxy are told apart), `peer` the
 * address alone. The header is the client's to write, so the peer has a limit of its own too.
 */
export function clientOf(c: Context): { client: string; peer: string } {
  let peer = 'unknown';
  try {
    peer = getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // Not served by @hono/node-server (in-process requests in tests).
  }
  const forwarded = c.req.header('x-forwarded-for')?.split(',').at(-1)?.trim();
  return { client: forwarded ? `${peer} via ${forwarded.slice(0, 64)}` : peer, peer };
}

export const isHtmx = (c: Context): boolean => c.req.header('hx-request') === 'true';

/** The form fields of a POST (url-encoded or multipart); files are ignored. */
export async function formOf(c: Context): Promise<Record<string, string>> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return {};
  const body = await c.req.parseBody();
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) if (typeof value === 'string') fields[name] = value;
  return fields;
}

/** Every value of every form field of a POST (checkbox groups send one name many times); files are ignored. */
export async function formValues(c: Context): Promise<Record<string, string[]>> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return {};
  const body = await c.req.parseBody({ all: true });
  const fields: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(body)) {
    const values = Array.isArray(value) ? value : [value];
    fields[name] = values.filter((item): item is string => typeof item === 'string');
  }
  return fields;
}

/** A `next` target after sign-in: a path of this area only, never another site. */
export function safeNext(next: string | undefined, area: '/ui' | '/portal/messages'): string {
  if (next === undefined || !next.startsWith(area) || next.startsWith('//') || /[\\\s]/.test(next)) return area;
  const rest = next.slice(area.length);
  return rest === '' || rest.startsWith('/') || rest.startsWith('?') ? next : area;
}
