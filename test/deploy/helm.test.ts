// The Helm chart (deploy/helm/syncord) as an operator checks it: `helm lint --strict` passes with
// the defaults and with every feature on (ci/full-values.yaml); `helm template` renders what the
// values say (replicas, roles, probes, a non-root read-only container, Secrets by reference, the
// ClusterRole of deploy/rbac/syncord.yaml, monitoring objects); bad values are refused naming the
// value; and the rendered objects, ServiceMonitor and PrometheusRule included, are accepted by
// the rig's kube-apiserver (which has the Prometheus Operator's CRDs). Helm is the one the rig
// builds ($SYNCORD_HELM).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';
import { rig, uniqueName, type RigEnv } from '../support/rig.js';
import { normalRules } from '../support/rbac.js';
import { runCommand } from '../support/run.js';

const CHART = fileURLToPath(new URL('../../deploy/helm/syncord', import.meta.url));
const FULL = join(CHART, 'ci', 'full-values.yaml');
const RBAC = fileURLToPath(new URL('../../deploy/rbac/syncord.yaml', import.meta.url));

/** A rendered object: what the assertions read of it. */
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: k8s.V1ObjectMeta & { name: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  rules?: k8s.V1PolicyRule[];
  roleRef?: k8s.V1RoleRef;
  subjects?: k8s.RbacV1Subject[];
}

describe('deploy: the Helm chart (deploy/helm/syncord)', function () {
  this.timeout(240_000);
  let env: RigEnv;
  let helmBin: string;
  let work: string;

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    helmBin = env.SYNCORD_HELM;
    if (!existsSync(helmBin)) {
      console.log(`      skipped: helm is not built (${helmBin}); run rig/rig up`);
      this.skip();
    }
    work = mkdtempSync(join(tmpdir(), 'syncord-helm-'));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const helm = (...args: string[]) => runCommand(helmBin, args);

  /** `helm template` of the chart as release `syncord` in `namespace`; fails on an error. */
  async function render(
    args: string[] = [],
    namespace = 'syncord',
    release = 'syncord',
  ): Promise<Obj[]> {
    const r = await helm('template', release, CHART, '--namespace', namespace, ...args);
    if (r.code !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${r.stderr}`);
    return parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null);
  }

  const find = (objs: Obj[], kind: string, name: string): Obj => {
    const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
    if (!o) {
      const have = objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ');
      throw new Error(`no ${kind} ${name} rendered; there are ${have}`);
    }
    return o;
  };
  const deployment = (objs: Obj[], name: string) =>
    find(objs, 'Deployment', name) as unknown as k8s.V1Deployment;
  const container = (d: k8s.V1Deployment): k8s.V1Container => {
    const c = d.spec?.template.spec?.containers[0];
    if (!c) throw new Error(`${d.metadata?.name ?? '?'} has no container`);
    return c;
  };
  const envNamed = (c: k8s.V1Container, name: string) => c.env?.find((e) => e.name === name);

  describe('helm lint --strict', () => {
    it('passes with the defaults', async () => {
      const r = await helm('lint', '--strict', CHART);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    });

    it('passes with every feature on (ci/full-values.yaml)', async () => {
      const r = await helm('lint', '--strict', CHART, '-f', FULL);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
    });
  });

  describe('helm template with the defaults', () => {
    let objs: Obj[];
    before(async () => {
      objs = await render();
    });

    it('runs two replicas of `syncord serve --role all` on every address, from the appVersion image', () => {
      const d = deployment(objs, 'syncord');
      expect(d.spec?.replicas).to.equal(2);
      const c = container(d);
      const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as {
        appVersion: string;
      };
      const pkg = JSON.parse(
        readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
      ) as { version: string };
      expect(chart.appVersion).to.equal(pkg.version);
      expect(c.image).to.equal(`syncord:${pkg.version}`);
      expect(c.args?.[0]).to.equal('serve');
      expect(c.args).to.include.ordered.members(['serve', '--role', 'all']);
      expect(c.args?.join(' ')).to.include('--listen 0.0.0.0:8080');
      expect(c.args?.join(' ')).to.include('--api-listen 0.0.0.0:50051');
      expect(c.ports?.map((p) => [p.name, p.containerPort])).to.deep.equal([
        ['http', 8080],
        ['grpc', 50051],
      ]);
      // The rollout keeps a replica serving, and a stopping one has 30 s to release the lock.
      expect(d.spec?.strategy?.rollingUpdate?.maxUnavailable).to.equal(0);
      expect(d.spec?.template.spec?.terminationGracePeriodSeconds).to.equal(30);
    });

    it('probes /healthz (liveness, startup) and /readyz (readiness) on the http port', () => {
      const c = container(deployment(objs, 'syncord'));
      expect(c.livenessProbe?.httpGet).to.include({
        path: '/healthz',
        port: 'http',
        scheme: 'HTTP',
      });
      expect(c.readinessProbe?.httpGet).to.include({ path: '/readyz', port: 'http' });
      expect(c.startupProbe?.httpGet).to.include({ path: '/healthz', port: 'http' });
      expect(c.startupProbe?.failureThreshold).to.be.greaterThan(
        c.livenessProbe?.failureThreshold ?? 0,
      );
    });

    it('runs as a non-root user with a read-only root, no capabilities and the default seccomp profile', () => {
      const d = deployment(objs, 'syncord');
      const pod = d.spec?.template.spec;
      expect(pod?.securityContext).to.deep.include({ runAsNonRoot: true, runAsUser: 1000 });
      expect(pod?.securityContext?.seccompProfile?.type).to.equal('RuntimeDefault');
      const c = container(d);
      expect(c.securityContext).to.deep.include({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      expect(c.securityContext?.capabilities?.drop).to.deep.equal(['ALL']);
      // The one writable place: an emptyDir on /tmp.
      expect(c.volumeMounts?.map((m) => m.mountPath)).to.deep.equal(['/tmp']);
      expect(c.resources).to.deep.equal({
        requests: { cpu: '100m', memory: '256Mi' },
        limits: { memory: '1Gi' },
      });
      expect(pod?.serviceAccountName).to.equal('syncord');
      // Replicas spread over nodes, selecting their own pods.
      expect(pod?.topologySpreadConstraints?.[0]?.labelSelector?.matchLabels).to.deep.equal({
        'app.kubernetes.io/name': 'syncord',
        'app.kubernetes.io/instance': 'syncord',
        'app.kubernetes.io/component': 'server',
      });
    });

    it('takes DATABASE_URL from a Secret and the rest from its ConfigMap', () => {
      const c = container(deployment(objs, 'syncord'));
      expect(envNamed(c, 'DATABASE_URL')?.valueFrom?.secretKeyRef).to.deep.equal({
        name: 'syncord-database',
        key: 'uri',
      });
      // No admin password given: none is passed.
      expect(envNamed(c, 'SYNCORD_ADMIN_PASSWORD')).to.equal(undefined);
      expect(c.envFrom).to.deep.equal([{ configMapRef: { name: 'syncord' } }]);
      expect(find(objs, 'ConfigMap', 'syncord').data).to.deep.equal({
        SYNCORD_WORKERS: '8',
        SYNCORD_RESYNC: '300',
        SYNCORD_SHUTDOWN_GRACE: '20',
        SYNCORD_ADMIN_USER: 'admin',
      });
      // The chart makes no Secret it was given nothing for.
      expect(objs.filter((o) => o.kind === 'Secret')).to.deep.equal([]);
    });

    it('has a Service with grpc 50051 and http 8080, a PodDisruptionBudget, and no monitoring objects', () => {
      const svc = find(objs, 'Service', 'syncord').spec as unknown as k8s.V1ServiceSpec;
      expect(svc.type).to.equal('ClusterIP');
      expect(svc.ports?.map((p) => [p.name, p.port, p.targetPort, p.appProtocol])).to.deep.equal([
        ['grpc', 50051, 'grpc', 'grpc'],
        ['http', 8080, 'http', 'http'],
      ]);
      const labels = deployment(objs, 'syncord').spec?.template.metadata?.labels ?? {};
      for (const [k, v] of Object.entries(svc.selector ?? {})) expect(labels[k]).to.equal(v);
      const pdb = find(objs, 'PodDisruptionBudget', 'syncord')
        .spec as k8s.V1PodDisruptionBudgetSpec;
      expect(pdb.maxUnavailable).to.equal(1);
      expect(pdb.selector?.matchLabels).to.deep.equal(
        deployment(objs, 'syncord').spec?.selector.matchLabels,
      );
      const kinds = objs.map((o) => o.kind);
      expect(kinds).to.not.include.members(['ServiceMonitor', 'PrometheusRule']);
      for (const o of objs) {
        expect(o.metadata.labels?.['helm.sh/chart'], o.kind).to.equal('syncord-0.1.0');
        expect(o.metadata.labels?.['app.kubernetes.io/managed-by'], o.kind).to.equal('Helm');
      }
    });

    it("grants the ServiceAccount exactly deploy/rbac/syncord.yaml's ClusterRole rules", () => {
      const file = parseAllDocuments(readFileSync(RBAC, 'utf8')).map((d) => d.toJS() as Obj);
      const want = file.find((o) => o.kind === 'ClusterRole')?.rules ?? [];
      expect(want).to.have.length.greaterThan(0);
      const role = find(objs, 'ClusterRole', 'syncord-syncord');
      expect(normalRules(role.rules ?? [])).to.deep.equal(normalRules(want));
      const binding = find(objs, 'ClusterRoleBinding', 'syncord-syncord');
      expect(binding.roleRef).to.deep.equal({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'syncord-syncord',
      });
      expect(binding.subjects).to.deep.equal([
        { kind: 'ServiceAccount', name: 'syncord', namespace: 'syncord' },
      ]);
      find(objs, 'ServiceAccount', 'syncord');
    });

    it('passes role api or sync as --role (sync serves no gRPC API)', async () => {
      const api = container(deployment(await render(['--set', 'role=api']), 'syncord'));
      expect(api.args).to.include.ordered.members(['serve', '--role', 'api']);
      const sync = container(deployment(await render(['--set', 'role=sync']), 'syncord'));
      expect(sync.args).to.include.ordered.members(['serve', '--role', 'sync']);
      expect(sync.args).to.not.include('--api-listen');
      expect(sync.ports?.map((p) => p.name)).to.deep.equal(['http']);
    });

    it('rolls the pods when a setting changes, and only then', async () => {
      const checksum = (o: Obj[]) =>
        deployment(o, 'syncord').spec?.template.metadata?.annotations?.['checksum/config'];
      const base = checksum(objs);
      expect(base).to.match(/^[0-9a-f]{64}$/);
      expect(checksum(await render(['--set', 'syncord.workers=4']))).to.not.equal(base);
      expect(checksum(await render(['--set', 'ovn.nbDb=tcp:10.0.0.5:6641']))).to.not.equal(base);
      expect(checksum(await render(['--set', 'replicaCount=3']))).to.equal(base);
      const secrets = (o: Obj[]) =>
        deployment(o, 'syncord').spec?.template.metadata?.annotations?.['checksum/secrets'];
      expect(secrets(await render(['--set', 'database.url=postgresql://a@db/x']))).to.not.equal(
        secrets(await render(['--set', 'database.url=postgresql://b@db/x'])),
      );
    });

    it('makes the Secrets it is given values for, and points at them', async () => {
      const o = await render([
        '--set',
        'database.url=postgresql://syncord:pw@db:5432/syncord',
        '--set',
        'admin.password=first-admin',
        '--set-string',
        'kubeconfigs.files.edge=kind: Config',
        '--set',
        'kubeconfigs.default=edge',
      ]);
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      expect(find(o, 'Secret', 'syncord-database').data).to.deep.equal({
        uri: b64('postgresql://syncord:pw@db:5432/syncord'),
      });
      expect(find(o, 'Secret', 'syncord-admin').data).to.deep.equal({
        password: b64('first-admin'),
      });
      expect(find(o, 'Secret', 'syncord-kubeconfigs').data).to.deep.equal({
        edge: b64('kind: Config'),
      });
      const c = container(deployment(o, 'syncord'));
      expect(envNamed(c, 'SYNCORD_ADMIN_PASSWORD')?.valueFrom?.secretKeyRef).to.deep.equal({
        name: 'syncord-admin',
        key: 'password',
      });
      expect(find(o, 'ConfigMap', 'syncord').data?.SYNCORD_KUBECONFIG).to.equal(
        '/etc/syncord/kubeconfigs/edge',
      );
      expect(c.volumeMounts?.map((m) => m.mountPath)).to.include('/etc/syncord/kubeconfigs');
    });
  });

  describe('helm template with every feature on (ci/full-values.yaml)', () => {
    let objs: Obj[];
    before(async () => {
      objs = await render(['-f', FULL]);
    });

    it('splits the API (3 replicas, behind the Service) from the synchronizer (2 replicas)', () => {
      expect(objs.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).to.deep.equal(
        ['syncord-api', 'syncord-sync'],
      );
      const api = deployment(objs, 'syncord-api');
      const sync = deployment(objs, 'syncord-sync');
      expect(api.spec?.replicas).to.equal(3);
      expect(sync.spec?.replicas).to.equal(2);
      expect(container(api).args).to.include.ordered.members(['serve', '--role', 'api']);
      expect(container(sync).args).to.include.ordered.members(['serve', '--role', 'sync']);
      expect(container(sync).args).to.not.include('--api-listen');
      expect(container(api).args).to.include('--resync=600');
      expect(container(api).resources?.limits).to.deep.equal({ memory: '768Mi' });
      expect(container(sync).resources?.limits).to.deep.equal({ memory: '1Gi' });
      expect(find(objs, 'Service', 'syncord').spec?.selector).to.deep.include({
        'app.kubernetes.io/component': 'api',
      });
      expect(find(objs, 'Service', 'syncord-sync').spec?.selector).to.deep.include({
        'app.kubernetes.io/component': 'sync',
      });
      expect(
        objs.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name),
      ).to.deep.equal(['syncord-api', 'syncord-sync']);
      expect(sync.spec?.template.spec?.terminationGracePeriodSeconds).to.equal(60);
    });

    it('takes the database URL and the admin password from the existing Secrets, and makes neither', () => {
      for (const name of ['syncord-api', 'syncord-sync']) {
        const c = container(deployment(objs, name));
        expect(envNamed(c, 'DATABASE_URL')?.valueFrom?.secretKeyRef).to.deep.equal({
          name: 'syncord-db-app',
          key: 'uri',
        });
        expect(envNamed(c, 'SYNCORD_ADMIN_PASSWORD')?.valueFrom?.secretKeyRef).to.deep.equal({
          name: 'syncord-admin',
          key: 'admin-password',
        });
        expect(envNamed(c, 'SYNCORD_KUBE_TIMEOUT_MS')?.value).to.equal('20000');
      }
      expect(objs.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).to.deep.equal([
        'syncord-kubeconfigs',
      ]);
    });

    it('serves TLS with client certificates, mounts the OVN, VTN and kubeconfig Secrets, and names them in the environment', () => {
      const d = deployment(objs, 'syncord-api');
      const c = container(d);
      const args = c.args?.join(' ') ?? '';
      expect(args).to.include(
        '--tls-cert /etc/syncord/tls/tls.crt --tls-key /etc/syncord/tls/tls.key',
      );
      expect(args).to.include('--tls-client-ca /etc/syncord/tls-client-ca/ca.crt');
      // The kubelet has no client certificate: the probes only connect.
      expect(c.livenessProbe?.tcpSocket?.port).to.equal('http');
      expect(c.readinessProbe?.httpGet).to.equal(undefined);
      const volumes = Object.fromEntries(
        (d.spec?.template.spec?.volumes ?? []).map((v) => [v.name, v.secret?.secretName]),
      );
      expect(volumes).to.deep.include({
        'ovn-ssl': 'syncord-ovn-client',
        'vtn-tls': 'syncord-vtn-client',
        tls: 'syncord-api-tls',
        'tls-client-ca': 'syncord-api-client-ca',
        kubeconfigs: 'syncord-kubeconfigs',
      });
      expect(find(objs, 'ConfigMap', 'syncord').data).to.deep.equal({
        SYNCORD_WORKERS: '16',
        SYNCORD_RESYNC: '300',
        SYNCORD_SHUTDOWN_GRACE: '40',
        SYNCORD_ADMIN_USER: 'root',
        SYNCORD_API_RATE: '200',
        SYNCORD_INSTANCE: 'syncord-prod',
        SYNCORD_KUBECONFIG: '/etc/syncord/kubeconfigs/edge-1',
        OVN_NB_DB: 'ssl:ovn-nb.ovn.svc:6641',
        OVN_SB_DB: 'ssl:ovn-sb.ovn.svc:6642',
        SYNCORD_OVN_GATEWAY_CHASSIS: 'gw-1,gw-2',
        SYNCORD_OVN_SSL_KEY: '/etc/syncord/ovn-ssl/tls.key',
        SYNCORD_OVN_SSL_CERT: '/etc/syncord/ovn-ssl/tls.crt',
        SYNCORD_OVN_SSL_CA: '/etc/syncord/ovn-ssl/ca.crt',
        SYNCORD_VTN_ADDRESS: 'onos-vtn.onos.svc:50051',
        SYNCORD_VTN_CA: '/etc/syncord/vtn-tls/ca.crt',
        SYNCORD_VTN_CERT: '/etc/syncord/vtn-tls/tls.crt',
        SYNCORD_VTN_KEY: '/etc/syncord/vtn-tls/tls.key',
      });
      expect(d.spec?.template.spec?.imagePullSecrets).to.deep.equal([{ name: 'regcred' }]);
      expect(c.image).to.equal('registry.example.com/syncord/syncord:0.1.0');
    });

    it('has a ServiceMonitor for /metrics over HTTPS, the PrometheusRule of files/prometheus-rules.yaml and the Grafana dashboard', () => {
      const sm = find(objs, 'ServiceMonitor', 'syncord');
      expect(sm.metadata.labels).to.deep.include({ release: 'prometheus' });
      const ep = (sm.spec?.endpoints as Record<string, unknown>[])[0];
      expect(ep).to.deep.include({
        port: 'http',
        path: '/metrics',
        scheme: 'https',
        interval: '15s',
      });
      // It selects the API's Service and the synchronizer's (both have the http port).
      const selector = (sm.spec?.selector as { matchLabels: Record<string, string> }).matchLabels;
      for (const name of ['syncord', 'syncord-sync']) {
        expect(find(objs, 'Service', name).metadata.labels).to.deep.include(selector);
      }
      const rules = parse(readFileSync(join(CHART, 'files', 'prometheus-rules.yaml'), 'utf8')) as {
        groups: unknown[];
      };
      expect(find(objs, 'PrometheusRule', 'syncord').spec?.groups).to.deep.equal(rules.groups);
      const dash = find(objs, 'ConfigMap', 'syncord-dashboard');
      expect(dash.metadata.labels?.grafana_dashboard).to.equal('1');
      expect(JSON.parse(dash.data?.['syncord.json'] ?? '')).to.deep.equal(
        JSON.parse(readFileSync(join(CHART, 'files', 'grafana-dashboard.json'), 'utf8')),
      );
    });
  });

  describe('bad values are refused, naming the value', () => {
    const refused = async (args: string[], ...words: (string | RegExp)[]) => {
      const r = await helm('template', 'syncord', CHART, ...args);
      expect(r.code, `helm template ${args.join(' ')} succeeded`).to.not.equal(0);
      for (const w of words) expect(r.stderr).to.match(typeof w === 'string' ? new RegExp(w) : w);
      return r.stderr;
    };

    it('an unknown role', async () => {
      await refused(['--set', 'role=leader'], /role/, /all|api|sync/);
    });

    it('a negative replica count', async () => {
      await refused(['--set', 'replicaCount=-1'], /replicaCount/, /minimum|greater/i);
      await refused(['--set', 'split.sync.replicaCount=-1'], /split\/sync\/replicaCount/);
    });

    it('a value of the wrong type, an unknown value and a misspelt key', async () => {
      await refused(['--set', 'syncord.workers=many'], /workers/);
      await refused(['--set', 'service.type=Ingress'], /\/service\/type/, /ClusterIP/);
      await refused(['--set', 'replicas=3'], /replicas/, /additional|not allowed/i);
      // The same checks run in helm lint.
      const r = await helm('lint', '--strict', CHART, '--set', 'role=leader');
      expect(r.code).to.not.equal(0);
      expect(r.stdout + r.stderr).to.match(/role/);
    });

    it('contradictory values', async () => {
      await refused(
        ['--set', 'split.enabled=true', '--set', 'role=api'],
        /role: api with split\.enabled/,
      );
      await refused(
        ['--set', 'syncord.shutdownGraceSeconds=30'],
        /syncord\.shutdownGraceSeconds \(30\) must be below terminationGracePeriodSeconds \(30\)/,
      );
      await refused(
        ['--set', 'database.url=postgresql://x@db/x', '--set', 'database.existingSecret=db'],
        /database\.url or database\.existingSecret, not both/,
      );
      await refused(['--set', 'kubeconfigs.default=edge'], /kubeconfigs\.default: edge/);
      await refused(['--set', 'tls.clientCaSecret=ca'], /tls\.clientCaSecret/);
    });
  });

  describe("the rig's kube-apiserver accepts the rendered objects", () => {
    const namespaces: string[] = [];
    const clusterScoped: string[] = [];

    const kubectl = (...args: string[]) =>
      runCommand(env.SYNCORD_KUBECTL, args, {
        env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
      });

    after(async function () {
      this.timeout(120_000);
      for (const file of clusterScoped) await kubectl('delete', '--ignore-not-found', '-f', file);
      for (const ns of namespaces) {
        await kubectl('delete', 'namespace', ns, '--ignore-not-found', '--wait=false');
      }
    });

    async function applyIn(label: string, args: string[]): Promise<void> {
      const ns = uniqueName(`helm-${label}`);
      const created = await kubectl('create', 'namespace', ns);
      expect(created.code, created.stderr).to.equal(0);
      namespaces.push(ns);
      const objs = await render(args, ns, 'syncord');
      const file = join(work, `${label}.yaml`);
      writeFileSync(file, objs.map((o) => JSON.stringify(o)).join('\n---\n'));
      // Cluster-scoped objects are deleted by file afterwards; the rest go with the namespace.
      const cluster = objs.filter((o) => o.kind.startsWith('ClusterRole'));
      const clusterFile = join(work, `${label}-cluster.yaml`);
      writeFileSync(clusterFile, cluster.map((o) => JSON.stringify(o)).join('\n---\n'));
      clusterScoped.push(clusterFile);
      const applied = await kubectl(
        'apply',
        '--server-side',
        '--field-manager=syncord-helm-test',
        '-n',
        ns,
        '-f',
        file,
      );
      expect(applied.code, applied.stderr).to.equal(0);
      const got = await kubectl('get', '-n', ns, '-f', file, '-o', 'json');
      expect(got.code, got.stderr).to.equal(0);
      const items = (JSON.parse(got.stdout) as { items: Obj[] }).items;
      const key = (o: Obj) => `${o.kind}/${o.metadata.name}`;
      expect(items.map(key).sort()).to.deep.equal(objs.map(key).sort());
      for (const o of items) {
        if (o.kind.startsWith('ClusterRole')) continue;
        expect(o.metadata.namespace, key(o)).to.equal(ns);
      }
    }

    it('with the defaults', async () => {
      await applyIn('defaults', []);
    });

    it('with every feature on, ServiceMonitor and PrometheusRule included', async () => {
      await applyIn('full', ['-f', FULL]);
    });
  });
});
