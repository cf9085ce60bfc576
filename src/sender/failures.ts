/** Maps errors thrown on the outbound path to the attempt error kinds (domain/delivery.ts). */
import type { TransportFailure } from '../domain/outcome.ts';

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA', 'ESERVFAIL']);
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

interface Flat {
  code: string | null;
  message: string;
}

/** The error, its causes and an AggregateError's members (happy-eyeballs connects fail that way). */
function flatten(error: unknown, seen = new Set<unknown>()): Flat[] {
  if (error === null || error === undefined || seen.has(error)) return [];
  seen.add(error);
  if (!(error instanceof Error)) return [{ code: null, message: String(error) }];
  const code = (error as { code?: unknown }).code;
  const own: Flat = { code: typeof code === 'string' ? code : null, message: error.message };
  const members = error instanceof AggregateError ? error.errors.flatMap((member: unknown) => flatten(member, seen)) : [];
  return [own, ...members, ...flatten(error.cause, seen)];
}

export function describeFailure(error: unknown, host: string): TransportFailure {
  const all = flatten(error);
  const found = (test: (code: string) => boolean): Flat | undefined => all.find((item) => item.code !== null && test(item.code));
  const detail = (item: Flat | undefined): string => {
    const chosen = item ?? all.find((entry) => entry.message !== '') ?? { code: null, message: 'unknown error' };
    return chosen.code !== null && !chosen.message.includes(chosen.code) ? `${chosen.code}: ${chosen.message}` : chosen.message;
  };

  const blocked = found((code) => code === 'ORBIT_BLOCKED');
  if (blocked) return { kind: 'blocked', message: blocked.message };
  const dns = found((code) => DNS_CODES.has(code));
  if (dns) return { kind: 'dns', message: `DNS lookup of ${host} failed: ${detail(dns)}` };
  const tls = found((code) => TLS_CODE.test(code));
  if (tls) return { kind: 'tls', message: `TLS handshake with ${host} failed: ${detail(tls)}` };
  const timeout = found((code) => TIMEOUT_CODES.has(code));
  if (timeout) return { kind: 'timeout', message: `timed out talking to ${host}: ${detail(timeout)}` };
  // Refused, reset, closed mid-answer and every other socket error; prefer the system code
  // (ECONNREFUSED, ECONNRESET) over undici's generic UND_ERR_SOCKET.
  const system = all.find((item) => item.code !== null && item.code.startsWith('E'));
  if (system) return { kind: 'connection', message: `connection to ${host} failed: ${detail(system)}` };
  if (all.some((item) => item.code === 'UND_ERR_SOCKET')) {
    return { kind: 'connection', message: `connection to ${host} closed by the receiver before a complete answer` };
  }
  return { kind: 'connection', message: `connection to ${host} failed: ${detail(undefined)}` };
}
