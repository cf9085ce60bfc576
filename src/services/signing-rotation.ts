/**
 * `POST /v1/admin/tenants/{id}/signing-secret/rotate`: a new current signing secret; every secret
 * valid before keeps signing (deliveries carry one `v1,…` entry per valid secret) until
 * now + grace period, so receivers can switch without rejecting a delivery.
 */
import { and, eq } from 'drizzle-orm';
import { endpoints, tenants } from '../db/schema.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import { generateSigningSecret, normaliseSigningSecret, parseSigningSecret, SIGNING_SECRET_RULE } from '../domain/signing.ts';
import type { ServiceDeps } from './deps.ts';
import {
  countValidSigningSecrets,
  currentSigningSecret,
  replaceSigningSecret,
  validSigningSecrets,
  type SecretOwner,
  type ValidSigningSecret,
} from './signing-secrets.ts';

export const DEFAULT_GRACE_MS = 24 * 3_600_000;
export const MAX_GRACE_MS = 7 * 86_400_000;
/**
 * Secrets in their grace period at most, as Svix allows: each adds a `v1,…` entry to both signature
 * headers of every delivery, and enough of them would outgrow a receiver's header limit.
 */
export const MAX_OLD_SECRETS = 10;

export interface RotateInput {
  /** How long the secrets valid before keep signing, ms: 0..7 days, default 24 h. */
  gracePeriod?: number | undefined;
  /** A known secret to use (e.g. one receivers were already given); generated when absent. */
  secret?: string | undefined;
}

export interface RotatedSecret {
  signingSecret: string;
  /** When the secrets valid before this rotation stop signing; null when there were none. */
  previousSecretExpiresAt: string | null;
  /** Every secret that signs from now on, newest first, with its expiry. */
  secrets: ValidSigningSecret[];
}

/**
 * Rotates a tenant's or an endpoint's signing secret (see signing-secrets.ts). The owner's row lock
 * serialises concurrent rotations: exactly one secret ends up current. An unknown owner is a 404.
 */
export async function rotateSigningSecret(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'cipher'>,
  owner: SecretOwner,
  input: RotateInput = {},
): Promise<RotatedSecret> {
  const grace = input.gracePeriod ?? DEFAULT_GRACE_MS;
  const problems: { path: string; message: string }[] = [];
  if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_MS) {
    problems.push({ path: 'gracePeriod', message: 'must be a duration from 0 to 7 days' });
  }
  if (input.secret !== undefined && parseSigningSecret(input.secret) === null) {
    problems.push({ path: 'secret', message: SIGNING_SECRET_RULE });
  }
  if (problems.length > 0) throw new OrbitError('validation_failed', 'the request is not valid', problems);

  const secret = normaliseSigningSecret(input.secret ?? generateSigningSecret());
  return deps.db.transaction(async (tx) => {
    const [locked] =
      owner.endpointId === null
        ? await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, owner.tenantId)).for('update')
        : await tx
            .select({ id: endpoints.id })
            .from(endpoints)
            .where(and(eq(endpoints.id, owner.endpointId), eq(endpoints.tenantId, owner.tenantId)))
            .for('update');
    if (!locked) throw notFound(owner.endpointId === null ? 'tenant' : 'endpoint');
    const now = deps.clock.now();
    // A rotation without grace retires every earlier secret at once, so it is always allowed.
    if (grace > 0 && (await countValidSigningSecrets(tx, owner, now)) > MAX_OLD_SECRETS) {
      throw new OrbitError(
        'limit_reached',
        `${MAX_OLD_SECRETS} earlier secrets still sign; wait until one expires, or rotate with a grace period of 0 to retire them all`,
      );
    }
    const expiresAt = new Date(now.getTime() + grace);
    const hadPrevious = await replaceSigningSecret(deps, tx, owner, secret, now, expiresAt);
    const secrets = await validSigningSecrets(tx, deps.cipher, owner, now);
    return { signingSecret: secret, previousSecretExpiresAt: hadPrevious ? expiresAt.toISOString() : null, secrets };
  });
}

/** An endpoint's current secret, as the Svix API reads it (`{ key }`). */
export async function endpointSecret(deps: Pick<ServiceDeps, 'db' | 'cipher'>, owner: SecretOwner): Promise<{ key: string }> {
  const secret = await currentSigningSecret(deps.db, deps.cipher, owner);
  if (secret === null) throw new OrbitError('not_found', 'the endpoint has no signing secret');
  return { key: secret };
}

/** An endpoint's rotation as the Svix API asks for it: `key` (the new secret) and `gracePeriodSeconds`. */
export async function rotateEndpointSigningSecret(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'cipher'>,
  owner: SecretOwner,
  input: { key?: string | null | undefined; gracePeriodSeconds?: number | null | undefined },
): Promise<void> {
  if (input.key != null && parseSigningSecret(input.key) === null) {
    throw new OrbitError('validation_failed', 'the request is not valid', [{ path: 'body.key', message: SIGNING_SECRET_RULE }]);
  }
  await rotateSigningSecret(deps, owner, {
    ...(input.gracePeriodSeconds != null ? { gracePeriod: input.gracePeriodSeconds * 1000 } : {}),
    ...(input.key != null ? { secret: input.key } : {}),
  });
}
