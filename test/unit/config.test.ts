import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ConfigError, configurationTable, loadConfig } from '../../src/config.ts';
import { replaceConfigTable } from '../../scripts/lib/readme-config.ts';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  it('an empty environment gives the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      port: 3000,
      host: '0.0.0.0',
      dataDir: './.orbit',
      embeddedPgPort: undefined,
      adminKey: undefined,
      signingSecret: undefined,
      retrySchedule: [5_000, 300_000, 1_800_000, 7_200_000, 28_800_000],
      retryJitter: 0.1,
      deliveryTimeoutMs: 30_000,
      allowHttp: false,
      allowPrivateNetworks: [],
      logLevel: 'info',
    });
  });

  it('an empty variable counts as unset', () => {
    const config = loadConfig({ PORT: '', HOST: '', DATABASE_URL: '', ORBIT_ADMIN_KEY: '', LOG_LEVEL: '' });
    expect(config.port).toBe(3000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.adminKey).toBeUndefined();
    expect(config.logLevel).toBe('info');
  });

  it('reads only the variables it knows', () => {
    expect(() => loadConfig({ SOMETHING_ELSE: 'x', PATH: '/bin' })).not.toThrow();
  });
});

describe('loadConfig accepted values', () => {
  it('takes every variable', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://orbit:pw@db.internal:5432/orbit',
      PORT: '8080',
      HOST: '127.0.0.1',
      ORBIT_DATA_DIR: '/var/lib/orbit',
      ORBIT_EMBEDDED_PG_PORT: '54329',
      ORBIT_ADMIN_KEY: 'gx_abcdefghijklmnopqrstuvwxyz012345',
      ORBIT_SIGNING_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      ORBIT_RETRY_SCHEDULE: '1s,2s',
      ORBIT_RETRY_JITTER: '0',
      ORBIT_DELIVERY_TIMEOUT: '10s',
      ORBIT_ALLOW_HTTP: 'true',
      ORBIT_ALLOW_PRIVATE_NETWORKS: '10.0.0.0/8',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgresql://orbit:pw@db.internal:5432/orbit',
      port: 8080,
      host: '127.0.0.1',
      dataDir: '/var/lib/orbit',
      embeddedPgPort: 54329,
      adminKey: 'gx_abcdefghijklmnopqrstuvwxyz012345',
      signingSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      retrySchedule: [1_000, 2_000],
      retryJitter: 0,
      deliveryTimeoutMs: 10_000,
      allowHttp: true,
      logLevel: 'debug',
    });
    expect(config.allowPrivateNetworks.map((cidr) => cidr.text)).toEqual(['10.0.0.0/8']);
  });

  it('an empty ORBIT_RETRY_SCHEDULE means no retries', () => {
    expect(loadConfig({ ORBIT_RETRY_SCHEDULE: '' }).retrySchedule).toEqual([]);
    expect(loadConfig({ ORBIT_RETRY_SCHEDULE: '  ' }).retrySchedule).toEqual([]);
  });

  it.each([
    ['250ms', [250]],
    ['5s', [5_000]],
    ['30m', [1_800_000]],
    ['2h', [7_200_000]],
    ['1d', [86_400_000]],
    ['1.5s', [1_500]],
    ['100ms, 2s ,3m', [100, 2_000, 180_000]],
  ])('ORBIT_RETRY_SCHEDULE=%j → %j ms', (text, expected) => {
    expect(loadConfig({ ORBIT_RETRY_SCHEDULE: text }).retrySchedule).toEqual(expected);
  });

  it.each([
    ['100ms', 100],
    ['30s', 30_000],
    ['2m', 120_000],
    ['5m', 300_000],
  ])('ORBIT_DELIVERY_TIMEOUT=%j → %d ms', (text, expected) => {
    expect(loadConfig({ ORBIT_DELIVERY_TIMEOUT: text }).deliveryTimeoutMs).toBe(expected);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('ORBIT_ALLOW_HTTP=%j → %j', (text, expected) => {
    expect(loadConfig({ ORBIT_ALLOW_HTTP: text }).allowHttp).toBe(expected);
  });

  it('ORBIT_ALLOW_PRIVATE_NETWORKS takes IPv4 and IPv6 CIDRs and bare addresses', () => {
    const config = loadConfig({ ORBIT_ALLOW_PRIVATE_NETWORKS: '10.0.0.0/8, 127.0.0.1/32,::1/128,192.168.1.7,fd00::/8' });
    expect(config.allowPrivateNetworks.map((cidr) => cidr.text)).toEqual([
      '10.0.0.0/8',
      '127.0.0.1/32',
      '::1/128',
      '192.168.1.7',
      'fd00::/8',
    ]);
    expect(config.allowPrivateNetworks.map((cidr) => cidr.range[1])).toEqual([8, 32, 128, 32, 8]);
  });

  it.each(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'])(
    'ORBIT_SIGNING_SECRET accepts the valid vector %s',
    (secret) => {
      expect(loadConfig({ ORBIT_SIGNING_SECRET: secret }).signingSecret).toBe(secret);
    },
  );

  it.each(['0', '1', '0.25', '1.0'])('ORBIT_RETRY_JITTER=%s is accepted', (text) => {
    expect(loadConfig({ ORBIT_RETRY_JITTER: text }).retryJitter).toBe(Number(text));
  });
});

describe('loadConfig rejects bad values with one line naming variable, value and what is accepted', () => {
  it.each([
    ['DATABASE_URL', 'mysql://localhost/orbit', 'postgres://'],
    ['DATABASE_URL', 'localhost:5432', 'postgres://'],
    ['PORT', 'abc', 'integer port from 0 to 65535'],
    ['PORT', '70000', 'integer port from 0 to 65535'],
    ['PORT', '-1', 'integer port from 0 to 65535'],
    ['PORT', '80.5', 'integer port from 0 to 65535'],
    ['ORBIT_EMBEDDED_PG_PORT', '80', 'integer port from 1024 to 65535'],
    ['ORBIT_EMBEDDED_PG_PORT', 'x', 'integer port from 1024 to 65535'],
    ['ORBIT_RETRY_SCHEDULE', '5x', 'comma list of durations'],
    ['ORBIT_RETRY_SCHEDULE', '5s,,5m', 'comma list of durations'],
    ['ORBIT_RETRY_SCHEDULE', '5', 'comma list of durations'],
    ['ORBIT_RETRY_SCHEDULE', '-5s', 'comma list of durations'],
    ['ORBIT_RETRY_SCHEDULE', '8d', 'each at most 7d'],
    ['ORBIT_RETRY_SCHEDULE', Array.from({ length: 21 }, () => '1s').join(','), 'at most 20 steps'],
    ['ORBIT_RETRY_JITTER', '1.5', 'a number from 0 to 1'],
    ['ORBIT_RETRY_JITTER', '-0.1', 'a number from 0 to 1'],
    ['ORBIT_RETRY_JITTER', 'lots', 'a number from 0 to 1'],
    ['ORBIT_DELIVERY_TIMEOUT', '30', 'a duration from 100ms to 5m'],
    ['ORBIT_DELIVERY_TIMEOUT', '10ms', 'a duration from 100ms to 5m'],
    ['ORBIT_DELIVERY_TIMEOUT', '1h', 'a duration from 100ms to 5m'],
    ['ORBIT_ALLOW_HTTP', 'maybe', 'true or false'],
    ['ORBIT_ALLOW_PRIVATE_NETWORKS', '10.0.0.0/33', 'comma list of CIDRs'],
    ['ORBIT_ALLOW_PRIVATE_NETWORKS', 'localhost', 'comma list of CIDRs'],
    ['ORBIT_ALLOW_PRIVATE_NETWORKS', '10.0.0.0/8,300.1.1.1', 'comma list of CIDRs'],
    ['LOG_LEVEL', 'verbose', 'one of fatal, error, warn, info, debug, trace, silent'],
    ['ORBIT_RETENTION', 'forever', 'a duration from 1m to 3650d'],
    ['ORBIT_WORKER_CONCURRENCY', '0', 'an integer from 1 to 10000'],
    ['ORBIT_MAX_CONNECTIONS_PER_ORIGIN', 'many', 'an integer from 1 to 1000'],
    ['ORBIT_DB_POOL_SIZE', '1', 'an integer from 2 to 200'],
  ])('%s=%j', (variable, value, accepted) => {
    const error = configError({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(`${variable}=${JSON.stringify(value)}`);
    expect(error.message).toContain(accepted);
    expect(error.message).not.toContain('\n');
  });

  it.each([
    ['ORBIT_ADMIN_KEY', 'sk_live_not-an-orbit-key', 'gx_'],
    ['ORBIT_ADMIN_KEY', 'gx_short', 'gx_'],
    ['ORBIT_SIGNING_SECRET', 'whsec_not base64!', 'whsec_'],
    ['ORBIT_SIGNING_SECRET', 'whsec_AAAA', 'whsec_'],
    ['ORBIT_SIGNING_SECRET', 'whsec_-_-_ao-02f4jSG2St9wBJktwlbrfBClO', 'whsec_'],
    ['ORBIT_ENCRYPTION_KEY', 'c2hvcnQta2V5', 'base64 of exactly 32 bytes'],
  ])('%s with a bad value names the variable but never echoes the secret', (variable, value, accepted) => {
    const error = configError({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toContain('redacted');
    expect(error.message).toContain(accepted);
    expect(error.message).not.toContain(value.slice(value.indexOf('_') + 1));
  });

  it.each(['not_a_host!', 'two words', '-leading.example', 'a..b', 'ab:cd'])(
    'HOST=%j is refused, naming HOST and what it takes',
    (value) => {
      const error = configError({ HOST: value });
      expect(error.variable).toBe('HOST');
      expect(error.message).toContain(`HOST=${JSON.stringify(value)}`);
      expect(error.message).toContain('a host name or IP address');
    },
  );

  it.each(['0.0.0.0', '127.0.0.1', '::', '::1', 'localhost', 'orbit.internal.example.com', 'api-1'])('HOST=%j is accepted', (value) => {
    expect(loadConfig({ HOST: value }).host).toBe(value);
  });

  it('DATABASE_URL in an error loses its password', () => {
    const error = configError({ DATABASE_URL: 'mysql://orbit:hunter2@db.internal/orbit' });
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).toContain('mysql://orbit:***@db.internal/orbit');
    expect(error.message).not.toContain('hunter2');
  });

  it('names the first bad variable when several are bad', () => {
    const error = configError({ PORT: 'x', LOG_LEVEL: 'loud' });
    expect(['PORT', 'LOG_LEVEL']).toContain(error.variable);
  });
});

describe('the README', () => {
  it('shows the configuration table of src/config.ts (npm run docs:config writes it)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(replaceConfigTable(readme, configurationTable())).toBe(readme);
  });
});

describe('delivery control settings', () => {
  it('ORBIT_ENDPOINT_DISABLE_AFTER defaults to 5 days and takes any duration from 1s', () => {
    expect(loadConfig({}).endpointDisableAfterMs).toBe(5 * 86_400_000);
    expect(loadConfig({ ORBIT_ENDPOINT_DISABLE_AFTER: '1s' }).endpointDisableAfterMs).toBe(1_000);
    expect(loadConfig({ ORBIT_ENDPOINT_DISABLE_AFTER: '36h' }).endpointDisableAfterMs).toBe(36 * 3_600_000);
    for (const bad of ['999ms', '0s', 'soon', '-1d']) {
      expect(configError({ ORBIT_ENDPOINT_DISABLE_AFTER: bad }).message).toContain('ORBIT_ENDPOINT_DISABLE_AFTER');
    }
  });

  it('ORBIT_OPERATIONAL_WEBHOOK_URL is an https URL (http with ORBIT_ALLOW_HTTP); its secret is never echoed', () => {
    expect(loadConfig({}).operationalWebhookUrl).toBeUndefined();
    expect(loadConfig({ ORBIT_OPERATIONAL_WEBHOOK_URL: 'https://ops.example.com/hook' }).operationalWebhookUrl).toBe(
      'https://ops.example.com/hook',
    );
    expect(configError({ ORBIT_OPERATIONAL_WEBHOOK_URL: 'http://ops.example.com/hook' }).variable).toBe('ORBIT_OPERATIONAL_WEBHOOK_URL');
    expect(loadConfig({ ORBIT_OPERATIONAL_WEBHOOK_URL: 'http://127.0.0.1:9/hook', ORBIT_ALLOW_HTTP: 'true' }).operationalWebhookUrl).toBe(
      'http://127.0.0.1:9/hook',
    );
    expect(configError({ ORBIT_OPERATIONAL_WEBHOOK_URL: 'ftp://x' }).variable).toBe('ORBIT_OPERATIONAL_WEBHOOK_URL');
    const error = configError({ ORBIT_OPERATIONAL_WEBHOOK_SECRET: 'whsec_not-base64!' });
    expect(error.variable).toBe('ORBIT_OPERATIONAL_WEBHOOK_SECRET');
    expect(error.message).not.toContain('not-base64');
  });
});
