/**
 * `POST /v1/admin/tenants/{id}/signing-secret/rotate`: a new current signing secret; every secret
 * valid before keeps signing (deliveries carry one `v1,…` entry per valid secret) until
 * now + grace period, so receivers can switch without rejecting a delivery.
 */
import { eq } from 'drizzle-orm';
import { tenants } from '../db/schema.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import { generateSigningSecret, normaliseSigningSecret, parseSigningSecret, SIGNING_SECRET_RULE } from '../domain/signing.ts';
import type { ServiceDeps } from './deps.ts';
import { validSigningSecrets, type ValidSigningSecret } from './signing-secrets.ts';
import { replaceSigningSecret } from './tenants.ts';

export const DEFAULT_GRACE_MS = 24 * 3_600_000;
export const MAX_GRACE_MS = 7 * 86_400_000;

export interface RotateInput {
  /** How long the previous secret keeps signing, ms: 0..7 days, default 24 h. */
  gracePeriod?: number | undefined;
  /** A known secret to use (e.g. one receivers were already given); generated when absent. */
  secret?: string | undefined;
}

export interface RotatedSecret {
  tenantId: string;
  signingSecret: string;
  /** When the secrets valid before this rotation stop signing; null when the tenant had none. */
  previousSecretExpiresAt: string | null;
  /** Every secret that signs from now on, newest first, with its expiry. */
  secrets: ValidSigningSecret[];
}

export async function rotateSigningSecret(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'cipher'>,
  tenantId: string,
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
    // The tenant row lock serialises concurrent rotations: exactly one secret ends up current.
    const [tenant] = await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).for('update');
    if (!tenant) throw notFound('tenant');
    const now = deps.clock.now();
    const expiresAt = new Date(now.getTime() + grace);
    const hadPrevious = await replaceSigningSecret(deps, tx, tenantId, secret, now, expiresAt);
    const secrets = await validSigningSecrets(tx, deps.cipher, tenantId, now);
    return { tenantId, signingSecret: secret, previousSecretExpiresAt: hadPrevious ? expiresAt.toISOString() : null, secrets };
  });
}
