import type { MiddlewareHandler } from 'hono';
import type { Principal } from '../services/tenants.ts';
import { errorResponse } from './errors.ts';

export type ApiEnv = {
  Variables: {
    requestId: string;
    principal: Principal;
  };
};

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** `Authorization: Bearer gx_…` → the key's principal, or 401. */
export function requireApiKey(authenticate: (apiKey: string) => Promise<Principal | null>): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const match = BEARER.exec(c.req.header('authorization') ?? '');
    const apiKey = match?.[1];
    if (!apiKey) return errorResponse(c, 'unauthenticated', 'an API key is required: Authorization: Bearer <key>');
    if (apiKey.length > 512) return errorResponse(c, 'unauthenticated', 'the API key is not valid');
    const principal = await authenticate(apiKey);
    if (!principal) return errorResponse(c, 'unauthenticated', 'the API key is not valid');
    c.set('principal', principal);
    await next();
  };
}

export const requireAdmin: MiddlewareHandler<ApiEnv> = async (c, next) => {
  if (c.get('principal').scope !== 'admin') return errorResponse(c, 'forbidden', 'this route needs an admin key');
  await next();
};
