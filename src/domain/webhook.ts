import { LIMITS } from './limits.ts';
import { parseIp, refusedRange, type Cidr } from './network.ts';

export interface WebhookUrlRules {
  allowHttp: boolean;
  allowPrivateNetworks: readonly Cidr[];
}

/**
 * Why a webhook URL is refused, or null. Literal addresses are checked here; names are checked
 * again after resolution, at connect time, by the sender.
 */
export function webhookUrlProblem(text: string, rules: WebhookUrlRules): string | null {
  // The URL parser would silently drop tabs and newlines and escape NUL or unpaired surrogates; the
  // text is stored and shown as given, so it must already be clean.
  if (/[\s\p{Cc}]/u.test(text)) return 'must not contain spaces or control characters';
  if (!text.isWellFormed()) return 'contains an unpaired UTF-16 surrogate';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a valid absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return rules.allowHttp ? 'must be an http:// or https:// URL' : 'must be an https:// URL (http:// too with ORBIT_ALLOW_HTTP=true)';
  }
  if (url.protocol === 'http:' && !rules.allowHttp) return 'must be an https:// URL; set ORBIT_ALLOW_HTTP=true to allow http://';
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  if (url.hash !== '') return 'must not contain a fragment';
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  const literal = host === 'localhost' || host.endsWith('.localhost') ? parseIp('127.0.0.1') : parseIp(host);
  if (literal) {
    const range = refusedRange(literal, rules.allowPrivateNetworks);
    if (range) {
      return `points to ${range} (${host}); set ORBIT_ALLOW_PRIVATE_NETWORKS to a CIDR containing it to allow it`;
    }
  }
  return null;
}

/** Headers the engine owns, or that would break HTTP framing, refused as custom headers. */
const FORBIDDEN_NAMES = new Set([
  'host',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'user-agent',
  'http2-settings',
]);
const FORBIDDEN_PREFIXES = ['content-', 'svix-', 'webhook-', 'proxy-', ':'];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Problems with custom webhook headers, as `[name, message]` pairs. */
export function customHeaderProblems(headers: Record<string, string>): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const names = Object.keys(headers);
  if (names.length > LIMITS.headerCount) problems.push(['', `at most ${LIMITS.headerCount} headers`]);
  const seen = new Set<string>();
  for (const name of names) {
    const lower = name.toLowerCase();
    const value = headers[name] as string;
    if (!TOKEN.test(name) || name.length > LIMITS.headerNameLength) {
      problems.push([name, `is not a valid header name (token characters, at most ${LIMITS.headerNameLength})`]);
    } else if (FORBIDDEN_NAMES.has(lower) || FORBIDDEN_PREFIXES.some((prefix) => lower.startsWith(prefix))) {
      problems.push([name, 'is set by Orbit or controls HTTP framing and cannot be a custom header']);
    } else if (seen.has(lower)) {
      problems.push([name, 'is given twice (header names are case-insensitive)']);
    }
    seen.add(lower);
    if (/[\r\n\0]/.test(value)) problems.push([name, 'value must not contain CR, LF or NUL']);
    else if (value.length > LIMITS.headerValueLength) problems.push([name, `value is longer than ${LIMITS.headerValueLength} characters`]);
    else if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) problems.push([name, 'value must be visible ASCII or Latin-1 characters']);
  }
  return problems;
}
