/**
 * The deployment files (compose.yaml, deploy/kubernetes/) are checked here, since no Docker engine
 * or cluster runs in CI: they parse, and agree with the code on routes, ports, roles, variables
 * and labels. The code is read as text (the configuration table is imported), so this test needs no database.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseDuration } from '../../src/lib/durations.ts';
import { VARIABLES } from '../../src/config.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const K8S_DIR = join(ROOT, 'deploy/kubernetes');
const ROLES = ['api', 'worker', 'migrate', 'serve'];
/** Where each long-running role's HTTP app is built: the API's full app, a worker's ops server. */
const HTTP_APPS = { api: 'src/api/app.ts', worker: 'src/api/ops-app.ts' } as const;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Walks a path of keys, failing the test with the path when something is missing. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof key === 'number') {
      if (!Array.isArray(current)) throw new Error(`expected a list at ${path.join('.')}`);
      current = current[key];
    } else {
      if (!isObject(current)) throw new Error(`expected a mapping at ${path.join('.')}`);
      current = current[key];
    }
  }
  return current;
}

function obj(value: unknown, what: string): Json {
  if (!isObject(value)) throw new Error(`${what}: expected a mapping, got ${JSON.stringify(value)}`);
  return value;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list, got ${JSON.stringify(value)}`);
  return value;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

function stringMap(value: unknown, what: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(obj(value, what))) result[key] = str(item, `${what}.${key}`);
  return result;
}

/** Every document of a YAML file; a syntax error or warning fails the test. Merge keys as compose reads them. */
function parseYamlFile(path: string): Json[] {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'), { merge: true, prettyErrors: true });
  if (!Array.isArray(documents)) return [];
  return documents.map((document) => {
    expect(document.errors.map(String), path).toEqual([]);
    expect(document.warnings.map(String), path).toEqual([]);
    const value: unknown = document.toJS();
    return obj(value, path);
  });
}

interface Resource {
  file: string;
  kind: string;
  name: string;
  body: Json;
}

const manifestFiles = readdirSync(K8S_DIR).filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'));
const resources: Resource[] = manifestFiles
  .filter((file) => file !== 'kustomization.yaml')
  .flatMap((file) =>
    parseYamlFile(join(K8S_DIR, file)).map((body) => ({
      file,
      kind: str(body.kind, `${file} kind`),
      name: str(at(body, 'metadata', 'name'), `${file} metadata.name`),
      body,
    })),
  );
const [kustomization] = parseYamlFile(join(K8S_DIR, 'kustomization.yaml'));

function ofKind(kind: string): Resource[] {
  return resources.filter((resource) => resource.kind === kind);
}

function one(kind: string, name: string): Resource {
  const found = resources.find((resource) => resource.kind === kind && resource.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in deploy/kubernetes`);
  return found;
}

interface Workload {
  resource: Resource;
  podLabels: Record<string, string>;
  podSpec: Json;
  containers: Json[];
}

const workloads: Workload[] = resources
  .filter((resource) => resource.kind === 'Deployment' || resource.kind === 'Job')
  .map((resource) => {
    const template = obj(at(resource.body, 'spec', 'template'), `${resource.name} template`);
    const podSpec = obj(template.spec, `${resource.name} pod spec`);
    return {
      resource,
      podLabels: stringMap(at(template, 'metadata', 'labels'), `${resource.name} pod labels`),
      podSpec,
      containers: list(podSpec.containers, `${resource.name} containers`).map((item) => obj(item, `${resource.name} container`)),
    };
  });

function workload(kind: string, name: string): Workload {
  const found = workloads.find((item) => item.resource.kind === kind && item.resource.name === name);
  if (!found) throw new Error(`no ${kind} named ${name}`);
  return found;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
}

// --- what the code says -------------------------------------------------------------------------

/** The variables Orbit reads: the table in src/config.ts (its one reader of process.env). */
function configVariables(): Set<string> {
  return new Set(Object.keys(VARIABLES));
}

/**
 * The top-level paths an HTTP app serves, read from its source: every `app.route('<prefix>',
 * someRoutes(…))` is followed to the file `someRoutes` is imported from, whose `path: '…'`
 * route definitions count, under the prefix.
 */
function servedPaths(appFile: string): Set<string> {
  const file = join(ROOT, appFile);
  const text = readFileSync(file, 'utf8');
  const paths = new Set<string>();
  for (const [, prefix, factory] of text.matchAll(/\bapp\.route\(\s*['"`]([^'"`]*)['"`]\s*,\s*(\w+)\(/g)) {
    const from = new RegExp(`import\\s*\\{[^}]*\\b${factory as string}\\b[^}]*\\}\\s*from\\s*['"](\\.[^'"]+)['"]`).exec(text)?.[1];
    if (from === undefined) throw new Error(`${appFile}: where ${String(factory)} comes from was not found`);
    const routes = readFileSync(resolve(dirname(file), from), 'utf8');
    for (const [, path] of routes.matchAll(/\bpath:\s*['"`](\/[^'"`]*)['"`]/g)) {
      paths.add(`${(prefix as string).replace(/\/$/, '')}${path as string}`);
    }
  }
  return paths;
}

const variables = configVariables();

// --- Kubernetes ---------------------------------------------------------------------------------

describe('deploy/kubernetes', () => {
  const configMap = stringMap(one('ConfigMap', 'orbit-config').body.data, 'orbit-config data');
  const secret = one('Secret', 'orbit-secrets');
  const secretKeys = Object.keys(obj(secret.body.stringData, 'orbit-secrets stringData'));
  const port = Number(configMap.PORT);

  it('parses, and kustomization.yaml lists every manifest but the secret example', () => {
    const kust = obj(kustomization, 'kustomization.yaml');
    expect(kust.kind).toBe('Kustomization');
    const listed = list(kust.resources, 'kustomization resources').map((item) => str(item, 'resource'));
    for (const file of listed) expect(existsSync(join(K8S_DIR, file)), file).toBe(true);
    expect(new Set(listed)).toEqual(
      new Set(manifestFiles.filter((file) => file !== 'kustomization.yaml' && file !== 'secret.example.yaml')),
    );
    for (const resource of resources) expect(str(resource.body.apiVersion, `${resource.file} apiVersion`)).not.toBe('');
  });

  it('uses one image everywhere, the one kustomize rewrites', () => {
    const images = new Set(workloads.flatMap((item) => item.containers.map((container) => str(container.image, 'image'))));
    expect(images.size).toBe(1);
    const [image] = [...images] as [string];
    const rewrites = list(obj(kustomization, 'kustomization').images, 'kustomization images').map((item) => obj(item, 'images entry'));
    expect(rewrites.map((entry) => entry.name)).toEqual([image.split(':')[0]]);
  });

  it('runs `node src/main.ts <role>` with a role the CLI (src/cli.ts) knows, matching each workload', () => {
    const cliText = readFileSync(join(ROOT, 'src/cli.ts'), 'utf8');
    const known = /const COMMANDS[^=]*=\s*\[([^\]]*)\]/.exec(cliText);
    if (!known) throw new Error('src/cli.ts: COMMANDS not found');
    for (const role of ROLES) expect(known[1]).toContain(`'${role}'`);

    const roles = new Map<string, string>();
    for (const item of workloads) {
      for (const container of item.containers) {
        const command = list(container.command, `${item.resource.name} command`);
        expect(command.slice(0, 2), item.resource.name).toEqual(['node', 'src/main.ts']);
        expect(command).toHaveLength(3);
        const role = str(command[2], 'role');
        expect(ROLES).toContain(role);
        // The component label is what Services and PDBs select on: it must say what runs.
        expect(item.podLabels['app.kubernetes.io/component'], item.resource.name).toBe(role);
        roles.set(item.resource.name, role);
      }
    }
    expect(Object.fromEntries(roles)).toEqual({ 'orbit-api': 'api', 'orbit-worker': 'worker', 'orbit-migrate': 'migrate' });
  });

  it('runs the worker ops server from the CLI, so worker probes have something to reach', () => {
    const cliText = readFileSync(join(ROOT, 'src/cli.ts'), 'utf8');
    expect(cliText).toMatch(/const \{ createOpsApp \} = await import\('\.\/api\/ops-app\.ts'\)/);
    expect(cliText).toContain('createOpsApp(');
  });

  for (const [role, appFile] of Object.entries(HTTP_APPS)) {
    const name = `orbit-${role}`;

    it(`${name}: probes /healthz and /readyz and scrapes /metrics, routes ${appFile} serves, on the port Orbit listens on`, () => {
      expect(port).toBe(3000);
      const served = servedPaths(appFile);
      for (const path of ['/healthz', '/readyz', '/metrics']) expect([...served], `${path} served by ${appFile}`).toContain(path);

      const item = workload('Deployment', name);
      expect(item.containers).toHaveLength(1);
      const [container] = item.containers as [Json];
      const ports = list(container.ports, `${name} ports`).map((entry) => obj(entry, 'port'));
      expect(ports.map((entry) => entry.containerPort)).toEqual([port]);
      expect(str(ports[0]?.name, `${name} port name`)).toBe(role === 'api' ? 'http' : 'metrics');
      const portNames = new Map(ports.map((entry) => [entry.name, entry.containerPort]));

      const probePath = (probe: string): string => {
        const httpGet = obj(at(container, probe, 'httpGet'), `${name} ${probe}`);
        const target = httpGet.port;
        expect(typeof target === 'string' ? portNames.get(target) : target, `${name} ${probe} port`).toBe(port);
        const path = str(httpGet.path, `${name} ${probe} path`);
        expect([...served], `${name} ${probe} ${path} served by ${appFile}`).toContain(path);
        return path;
      };
      expect(probePath('livenessProbe')).toBe('/healthz');
      // Start-up runs migrations and bootstrap before listening: liveness must not count yet.
      expect(probePath('startupProbe')).toBe('/healthz');
      expect(probePath('readinessProbe')).toBe('/readyz');

      const annotations = stringMap(at(item.resource.body, 'spec', 'template', 'metadata', 'annotations'), `${name} pod annotations`);
      expect(annotations['prometheus.io/scrape']).toBe('true');
      expect(Number(annotations['prometheus.io/port'])).toBe(port);
      expect(annotations['prometheus.io/path']).toBe('/metrics');
    });
  }

  it('routes the API Service to the API pods only, and gives the workers no Service', () => {
    const services = ofKind('Service');
    const api = workload('Deployment', 'orbit-api');
    const worker = workload('Deployment', 'orbit-worker');
    // Prometheus scrapes pods directly (annotations or a PodMonitor): workers need no Service.
    expect(services.map((item) => item.name)).toEqual(['orbit-api']);
    for (const service of services) {
      const selector = stringMap(at(service.body, 'spec', 'selector'), `${service.name} selector`);
      expect(selects(selector, worker.podLabels), `${service.name} selects workers`).toBe(false);
      expect(selects(selector, api.podLabels)).toBe(true);
      const [container] = api.containers as [Json];
      const containerPorts = list(container.ports, 'ports').map((item) => obj(item, 'port'));
      for (const servicePort of list(at(service.body, 'spec', 'ports'), 'service ports').map((item) => obj(item, 'service port'))) {
        const target = servicePort.targetPort;
        const resolved = typeof target === 'string' ? containerPorts.find((item) => item.name === target)?.containerPort : target;
        expect(resolved).toBe(port);
      }
    }
    expect(at(worker.resource.body, 'spec', 'replicas')).toBe(2);
  });

  it('names only variables Orbit reads, and references only keys that exist', () => {
    for (const name of Object.keys(configMap)) expect(variables, `ConfigMap ${name}`).toContain(name);
    for (const name of secretKeys) expect(variables, `Secret ${name}`).toContain(name);
    for (const name of ['DATABASE_URL', 'ORBIT_ADMIN_KEY', 'ORBIT_ENCRYPTION_KEY']) expect(secretKeys).toContain(name);
    for (const name of ['DATABASE_URL', 'ORBIT_ADMIN_KEY', 'ORBIT_SIGNING_SECRET', 'ORBIT_ENCRYPTION_KEY']) {
      expect(Object.keys(configMap), `${name} belongs in the Secret`).not.toContain(name);
    }
    // Each setting is valid for Orbit's own parser where a duration is expected.
    for (const name of ['ORBIT_DELIVERY_TIMEOUT', 'ORBIT_RETENTION']) expect(parseDuration(configMap[name] ?? '')).not.toBeNull();

    for (const item of workloads) {
      for (const container of item.containers) {
        for (const env of list(container.env ?? [], 'env').map((entry) => obj(entry, 'env entry'))) {
          expect(variables, `${item.resource.name} env ${String(env.name)}`).toContain(env.name);
          const from = env.valueFrom === undefined ? null : obj(env.valueFrom, 'valueFrom');
          if (from?.configMapKeyRef) expect(Object.keys(configMap)).toContain(at(from, 'configMapKeyRef', 'key'));
          if (from?.secretKeyRef) expect(secretKeys).toContain(at(from, 'secretKeyRef', 'key'));
        }
        for (const source of list(container.envFrom ?? [], 'envFrom').map((entry) => obj(entry, 'envFrom entry'))) {
          if (source.configMapRef) expect(at(source, 'configMapRef', 'name')).toBe('orbit-config');
          if (source.secretRef) expect(at(source, 'secretRef', 'name')).toBe('orbit-secrets');
        }
      }
    }
  });

  it('keeps real secrets out: the example holds placeholders Orbit refuses to start with', () => {
    const values = stringMap(secret.body.stringData, 'stringData');
    expect(values.ORBIT_ADMIN_KEY).not.toMatch(/^gx_[A-Za-z0-9_-]{20,200}$/);
    expect(Buffer.from(values.ORBIT_ENCRYPTION_KEY ?? '', 'base64')).not.toHaveLength(32);
    expect(values.DATABASE_URL).toContain('CHANGE_ME');
    expect(values.DATABASE_URL).toMatch(/^postgres(ql)?:\/\/.+sslmode=/);
  });

  it('gives every container resource requests and a memory limit, and runs it as non-root', () => {
    for (const item of workloads) {
      const security = obj(item.podSpec.securityContext, `${item.resource.name} securityContext`);
      expect(security.runAsNonRoot).toBe(true);
      // A numeric uid, else the kubelet cannot verify runAsNonRoot for the image's `node` user.
      expect(typeof security.runAsUser).toBe('number');
      for (const container of item.containers) {
        const requests = obj(at(container, 'resources', 'requests'), `${item.resource.name} requests`);
        expect(requests.cpu, item.resource.name).toBeDefined();
        expect(requests.memory, item.resource.name).toBeDefined();
        expect(at(container, 'resources', 'limits', 'memory'), item.resource.name).toBeDefined();
      }
    }
  });

  it('gives pods longer to stop than Orbit takes to finish in-flight work', () => {
    const deliveryTimeoutSeconds = (parseDuration(configMap.ORBIT_DELIVERY_TIMEOUT ?? '30s') ?? 30_000) / 1000;
    const api = Number(workload('Deployment', 'orbit-api').podSpec.terminationGracePeriodSeconds);
    const worker = Number(workload('Deployment', 'orbit-worker').podSpec.terminationGracePeriodSeconds);
    expect(api).toBeGreaterThan(deliveryTimeoutSeconds);
    expect(worker).toBeGreaterThanOrEqual(45);
    // main.ts forces its exit after the delivery timeout + 30 s; the kubelet must not kill sooner.
    expect(worker).toBeGreaterThan(deliveryTimeoutSeconds + 30);
  });

  it('has a PodDisruptionBudget for the API and the workers, each selecting existing pods', () => {
    const budgets = ofKind('PodDisruptionBudget');
    const covered = new Set<string>();
    for (const budget of budgets) {
      const selector = stringMap(at(budget.body, 'spec', 'selector', 'matchLabels'), `${budget.name} selector`);
      const matched = workloads.filter((item) => item.resource.kind === 'Deployment' && selects(selector, item.podLabels));
      expect(
        matched.map((item) => item.resource.name),
        budget.name,
      ).toHaveLength(1);
      covered.add((matched[0] as Workload).resource.name);
    }
    expect(covered).toEqual(new Set(['orbit-api', 'orbit-worker']));
    for (const item of workloads.filter((workloadItem) => workloadItem.resource.kind === 'Deployment')) {
      const selector = stringMap(at(item.resource.body, 'spec', 'selector', 'matchLabels'), 'deployment selector');
      expect(selects(selector, item.podLabels), item.resource.name).toBe(true);
    }
  });

  it('has a migration Job that does not restart in place', () => {
    const job = workload('Job', 'orbit-migrate');
    expect(job.podSpec.restartPolicy).toBe('Never');
  });
});

// --- compose.yaml -------------------------------------------------------------------------------

describe('compose.yaml', () => {
  const [compose] = parseYamlFile(join(ROOT, 'compose.yaml'));
  const services = obj(obj(compose, 'compose').services, 'services');
  const service = (name: string): Json => obj(services[name], `service ${name}`);
  const orbitServices = Object.keys(services).filter((name) => name !== 'postgres');

  it('runs PostgreSQL 16 with a healthcheck and a volume', () => {
    const postgres = service('postgres');
    expect(str(postgres.image, 'postgres image')).toMatch(/^postgres:16/);
    expect(list(at(postgres, 'healthcheck', 'test'), 'healthcheck').join(' ')).toContain('pg_isready');
    const [volume] = list(postgres.volumes, 'postgres volumes').map((item) => str(item, 'volume'));
    expect(Object.keys(obj(obj(compose, 'compose').volumes, 'volumes'))).toContain(volume?.split(':')[0]);
  });

  it('builds every Orbit service from the Dockerfile, as one image, with a real role', () => {
    expect(orbitServices.sort()).toEqual(['api', 'migrate', 'worker']);
    expect(new Set(orbitServices.map((name) => service(name).image)).size).toBe(1);
    for (const name of orbitServices) {
      const build = service(name).build;
      const context = typeof build === 'string' ? build : str(at(build, 'context'), 'build.context');
      expect(existsSync(join(ROOT, context, 'Dockerfile'))).toBe(true);
      expect(service(name).command).toEqual(['node', 'src/main.ts', name]);
    }
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    expect(dockerfile).toMatch(/^COPY src \.\/src$/m);
  });

  it('migrates first, then starts the API and two workers', () => {
    expect(at(service('migrate'), 'depends_on', 'postgres', 'condition')).toBe('service_healthy');
    expect(service('migrate').restart).toBe('no');
    for (const name of ['api', 'worker']) {
      expect(at(service(name), 'depends_on', 'migrate', 'condition')).toBe('service_completed_successfully');
    }
    expect(at(service('worker'), 'deploy', 'replicas')).toBe(2);
  });

  it('publishes the API port only (two workers cannot share one host port)', () => {
    const api = service('api');
    const env = stringMap(api.environment, 'api environment');
    const [mapping] = list(api.ports, 'api ports').map((item) => str(item, 'port'));
    expect(Number(mapping?.split(':').at(-1))).toBe(Number(env.PORT));
    expect(service('worker').ports).toBeUndefined();
  });

  for (const [name, appFile] of Object.entries(HTTP_APPS)) {
    it(`health-checks ${name} on /healthz, a route ${appFile} serves, on the port it listens on`, () => {
      expect([...servedPaths(appFile)]).toContain('/healthz');
      const orbit = service(name);
      const env = stringMap(orbit.environment, `${name} environment`);
      expect(at(orbit, 'healthcheck', 'disable')).toBeUndefined();
      expect(list(at(orbit, 'healthcheck', 'test'), `${name} healthcheck`).join(' ')).toContain(`127.0.0.1:${env.PORT}/healthz`);
    });
  }

  it('names only variables Orbit reads, and hard-codes no secret', () => {
    for (const name of orbitServices) {
      const env = stringMap(service(name).environment, `${name} environment`);
      for (const key of Object.keys(env)) expect(variables, `${name} ${key}`).toContain(key);
      for (const key of ['ORBIT_ADMIN_KEY', 'ORBIT_ENCRYPTION_KEY', 'ORBIT_SIGNING_SECRET']) {
        if (env[key] !== undefined) expect(env[key], `${name} ${key}`).toMatch(/^\$\{[A-Z_]+(:?[-?][^}]*)?\}$/);
      }
      expect(env.DATABASE_URL, `${name} DATABASE_URL`).toMatch(/^postgres:\/\/orbit:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432\/orbit$/);
    }
    expect(stringMap(service('postgres').environment, 'postgres environment').POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    // Required secrets fail `docker compose up` when unset, instead of starting with a generated key.
    expect(stringMap(service('api').environment, 'api').ORBIT_ADMIN_KEY).toMatch(/^\$\{ORBIT_ADMIN_KEY:\?/);
  });

  it('gives the workers longer to stop than Orbit takes to finish in-flight attempts', () => {
    const grace = parseDuration(str(service('worker').stop_grace_period, 'stop_grace_period')) ?? 0;
    expect(grace).toBeGreaterThan(60_000);
  });
});
