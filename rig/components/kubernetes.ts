// The Kubernetes control plane of the rig: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler built from their Go modules, and kwok playing the kubelets of fake nodes.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import type { Component, RigContext } from '../component.js';
import { rigDir } from '../config.js';
import { httpGet } from '../http.js';
import { run, waitFor } from '../process.js';
import { installKubevirtCrds } from './kubevirt.js';
import { installPrometheusOperatorCrds } from './prometheus-operator.js';

const SERVICE_CIDR = '10.96.0.0/16';
const CLUSTER_CIDR = '10.244.0.0/16';
export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

const apiserverUrl = (ctx: RigContext) => `https://127.0.0.1:${ctx.config.ports.apiserver}`;

async function healthz(url: string): Promise<boolean> {
  const res = await httpGet(url, { insecure: true });
  if (res.status !== 200)
    throw new Error(`${url} answered ${res.status}: ${res.body.slice(0, 200)}`);
  return res.body.trim() === 'ok';
}

export const etcd: Component = {
  name: 'etcd',
  readyTimeoutMs: 30_000,
  port: (ctx) => ctx.config.ports.etcd,
  prepare(ctx) {
    const { etcd: client, etcdPeer: peer } = ctx.config.ports;
    const data = join(ctx.config.runDir, 'etcd');
    mkdirSync(data, { recursive: true, mode: 0o700 });
    return Promise.resolve({
      command: join(ctx.bins.etcd, 'etcd'),
      args: [
        '--name=rig',
        `--data-dir=${data}`,
        `--listen-client-urls=http://127.0.0.1:${client}`,
        `--advertise-client-urls=http://127.0.0.1:${client}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=rig=http://127.0.0.1:${peer}`,
        '--log-level=warn',
        // A throwaway test store: no fsync, as for the rig's PostgreSQL.
        '--unsafe-no-fsync',
      ],
      logFile: ctx.logFile('etcd'),
    });
  },
  async ready(ctx) {
    const res = await httpGet(`http://127.0.0.1:${ctx.config.ports.etcd}/health`);
    return res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === 'true';
  },
  async version(ctx) {
    const out = await run(join(ctx.bins.etcd, 'etcd'), ['--version']);
    return /etcd Version: (\S+)/.exec(out)?.[1] ?? out.split('\n')[0] ?? '';
  },
};

export const kubeApiserver: Component = {
  name: 'kube-apiserver',
  readyTimeoutMs: 90_000,
  port: (ctx) => ctx.config.ports.apiserver,
  prepare(ctx) {
    const c = ctx.creds;
    return Promise.resolve({
      command: join(ctx.bins.kubernetes, 'kube-apiserver'),
      args: [
        `--etcd-servers=http://127.0.0.1:${ctx.config.ports.etcd}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ctx.config.ports.apiserver}`,
        `--tls-cert-file=${c.apiserverCert}`,
        `--tls-private-key-file=${c.apiserverKey}`,
        `--client-ca-file=${c.caCert}`,
        `--token-auth-file=${c.tokenFile}`,
        '--authorization-mode=Node,RBAC',
        `--service-account-issuer=${apiserverUrl(ctx)}`,
        `--service-account-key-file=${c.saPub}`,
        `--service-account-signing-key-file=${c.saKey}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--allow-privileged=true',
        '--profiling=false',
        '--v=1',
      ],
      logFile: ctx.logFile('kube-apiserver'),
    });
  },
  async ready(ctx) {
    const res = await httpGet(`${apiserverUrl(ctx)}/readyz`, {
      ca: readFileSync(ctx.creds.caCert),
      token: ctx.creds.tokens.admin,
    });
    if (res.status !== 200) throw new Error(`/readyz answered ${res.status}`);
    return res.body.trim() === 'ok';
  },
  async version(ctx) {
    const res = await httpGet(`${apiserverUrl(ctx)}/version`, {
      ca: readFileSync(ctx.creds.caCert),
      token: ctx.creds.tokens.admin,
    });
    return (JSON.parse(res.body) as { gitVersion: string }).gitVersion;
  },
  async afterReady(ctx) {
    await applyManifest(ctx, join(rigDir, 'manifests', 'network-attachment-definition-crd.yaml'));
    const api = kubeconfig(ctx).makeApiClient(k8s.ApiextensionsV1Api);
    await waitFor(
      'the NetworkAttachmentDefinition CRD',
      async () => {
        const crd = await api.readCustomResourceDefinition({
          name: 'network-attachment-definitions.k8s.cni.cncf.io',
        });
        return (crd.status?.conditions ?? []).some(
          (c) => c.type === 'Established' && c.status === 'True',
        );
      },
      { timeoutMs: 30_000 },
    );
    await installKubevirtCrds(ctx);
    await installPrometheusOperatorCrds(ctx);
    await writeSyncordKubeconfig(ctx);
  },
};

/** A year: the rig's Syncord token outlives any test run; each `rig up` writes a fresh one. */
const SYNCORD_TOKEN_SECONDS = 365 * 24 * 3600;

/**
 * Applies Syncord's least-privilege RBAC (deploy/rbac/syncord.yaml) and writes a kubeconfig for
 * its ServiceAccount, with a token from the TokenRequest API: what every Syncord of the tests and
 * of `npm start` runs as ($SYNCORD_KUBECONFIG).
 */
async function writeSyncordKubeconfig(ctx: RigContext): Promise<void> {
  await applyManifest(ctx, join(rigDir, '..', 'deploy', 'rbac', 'syncord.yaml'));
  const core = kubeconfig(ctx).makeApiClient(k8s.CoreV1Api);
  const request = await core.createNamespacedServiceAccountToken({
    name: 'syncord',
    namespace: 'syncord-system',
    body: { spec: { audiences: [], expirationSeconds: SYNCORD_TOKEN_SECONDS } },
  });
  const token = request.status?.token;
  if (!token) throw new Error('the TokenRequest for syncord-system/syncord returned no token');
  const admin = kubeconfig(ctx);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error(`${ctx.kubeconfigs.admin} names no current cluster`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'syncord-rig',
        cluster: {
          server: cluster.server,
          'certificate-authority-data': readFileSync(ctx.creds.caCert).toString('base64'),
        },
      },
    ],
    users: [{ name: 'syncord', user: { token } }],
    contexts: [
      {
        name: 'syncord-rig',
        context: { cluster: 'syncord-rig', user: 'syncord', namespace: 'syncord-system' },
      },
    ],
    'current-context': 'syncord-rig',
  };
  writeFileSync(ctx.kubeconfigs.syncord, stringify(config), { mode: 0o600 });
}

export const kubeControllerManager: Component = {
  name: 'kube-controller-manager',
  readyTimeoutMs: 60_000,
  port: (ctx) => ctx.config.ports.controllerManager,
  prepare(ctx) {
    const c = ctx.creds;
    const kc = ctx.kubeconfigs.controllerManager;
    const certDir = join(ctx.config.runDir, 'kube-controller-manager');
    mkdirSync(certDir, { recursive: true });
    return Promise.resolve({
      command: join(ctx.bins.kubernetes, 'kube-controller-manager'),
      args: [
        `--kubeconfig=${kc}`,
        `--authentication-kubeconfig=${kc}`,
        `--authorization-kubeconfig=${kc}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ctx.config.ports.controllerManager}`,
        `--cert-dir=${certDir}`,
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${c.saKey}`,
        `--root-ca-file=${c.caCert}`,
        `--cluster-signing-cert-file=${c.caCert}`,
        `--cluster-signing-key-file=${c.caKey}`,
        // Node IPAM: every node gets a podCIDR, from which kwok hands out pod IPs.
        '--allocate-node-cidrs=true',
        `--cluster-cidr=${CLUSTER_CIDR}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--profiling=false',
        '--v=1',
      ],
      logFile: ctx.logFile('kube-controller-manager'),
    });
  },
  ready: (ctx) => healthz(`https://127.0.0.1:${ctx.config.ports.controllerManager}/healthz`),
  version: (ctx) => binaryVersion(ctx, 'kube-controller-manager'),
};

export const kubeScheduler: Component = {
  name: 'kube-scheduler',
  readyTimeoutMs: 60_000,
  port: (ctx) => ctx.config.ports.scheduler,
  prepare(ctx) {
    const kc = ctx.kubeconfigs.scheduler;
    return Promise.resolve({
      command: join(ctx.bins.kubernetes, 'kube-scheduler'),
      args: [
        `--kubeconfig=${kc}`,
        `--authentication-kubeconfig=${kc}`,
        `--authorization-kubeconfig=${kc}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ctx.config.ports.scheduler}`,
        '--leader-elect=false',
        '--profiling=false',
        '--v=1',
      ],
      logFile: ctx.logFile('kube-scheduler'),
    });
  },
  ready: (ctx) => healthz(`https://127.0.0.1:${ctx.config.ports.scheduler}/healthz`),
  version: (ctx) => binaryVersion(ctx, 'kube-scheduler'),
};

export const kwok: Component = {
  name: 'kwok',
  readyTimeoutMs: 30_000,
  port: (ctx) => ctx.config.ports.kwok,
  prepare(ctx) {
    const dir = join(ctx.config.runDir, 'kwok');
    mkdirSync(dir, { recursive: true });
    // kwok's own pod stages plus the rig's Multus double, in one multi-document config.
    const stagesDir = join(ctx.bins.kwok, 'stages');
    const docs = readdirSync(stagesDir)
      .sort()
      .map((f) => readFileSync(join(stagesDir, f), 'utf8'));
    docs.push(readFileSync(join(rigDir, 'manifests', 'kwok-multus-network-status.yaml'), 'utf8'));
    const configFile = join(dir, 'kwok.yaml');
    writeFileSync(configFile, docs.map((d) => d.trim()).join('\n---\n') + '\n');
    return Promise.resolve({
      command: join(ctx.bins.kwok, 'kwok'),
      args: [
        `--kubeconfig=${ctx.kubeconfigs.kwok}`,
        `--config=${configFile}`,
        '--manage-all-nodes=false',
        `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
        `--cidr=${CLUSTER_CIDR}`,
        '--node-lease-duration-seconds=40',
        `--server-address=127.0.0.1:${ctx.config.ports.kwok}`,
      ],
      logFile: ctx.logFile('kwok'),
    });
  },
  async ready(ctx) {
    const res = await httpGet(`http://127.0.0.1:${ctx.config.ports.kwok}/healthz`);
    return res.status === 200;
  },
  async version(ctx) {
    const out = await run(join(ctx.bins.kwok, 'kwok'), ['--version']);
    return /version (v\S+)/.exec(out)?.[1] ?? out.trim().split('\n')[0] ?? '';
  },
  async afterReady(ctx) {
    const api = kubeconfig(ctx).makeApiClient(k8s.CoreV1Api);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kubeconfig(ctx));
    const names = Array.from({ length: ctx.config.nodes }, (_, i) => `kwok-node-${i}`);
    for (const name of names) {
      await objects.patch(
        fakeNode(name),
        undefined,
        undefined,
        'syncord-rig',
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
    }
    await waitFor(
      `${names.length} kwok nodes Ready`,
      async () => {
        const list = await api.listNode({ labelSelector: 'type=kwok' });
        const ready = list.items.filter(
          (n) =>
            names.includes(n.metadata?.name ?? '') &&
            n.spec?.podCIDR &&
            (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length === names.length;
      },
      { timeoutMs: 60_000 },
    );
  },
};

function fakeNode(name: string): k8s.V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        type: 'kwok',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
      },
    },
    status: {
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
}

async function binaryVersion(ctx: RigContext, binary: string): Promise<string> {
  const out = await run(join(ctx.bins.kubernetes, binary), ['--version']);
  return /Kubernetes (\S+)/.exec(out)?.[1] ?? out.trim();
}

export function kubeconfig(ctx: RigContext): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(ctx.kubeconfigs.admin);
  return kc;
}

/** Server-side applies every document of a manifest file with the rig's field manager. */
export async function applyManifest(ctx: RigContext, file: string): Promise<void> {
  if (!existsSync(file)) throw new Error(`${file}: no such manifest`);
  const client = k8s.KubernetesObjectApi.makeApiClient(kubeconfig(ctx));
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const spec = doc.toJS() as k8s.KubernetesObject | null;
    if (!spec) continue;
    await client.patch(
      spec,
      undefined,
      undefined,
      'syncord-rig',
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
  }
}
