// The Kubernetes client layer against the rig's apiserver: server-side apply, idempotent removal,
// reads and lists, the apiserver's refusals as one sentence with the HTTP code, and the watch
// that resumes when the apiserver ends it and keeps trying when it cannot be reached.
import * as net from 'node:net';
import { expect } from 'chai';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import {
  KubernetesCluster,
  KubernetesError,
  type WatchEventType,
} from '../../backends/kubernetes/index.js';
import { eventually, rig, uniqueName } from '../support/rig.js';

describe('kubernetes: the client layer', function () {
  this.timeout(60_000);
  let cluster: KubernetesCluster;
  let ns: string;

  before(async function () {
    this.timeout(45 * 60_000);
    await rig(); // sets $KUBECONFIG
    cluster = KubernetesCluster.fromKubeconfig();
    ns = uniqueName('k8s-client');
    await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });

  after(async () => {
    await cluster.remove('v1', 'Namespace', undefined, ns);
  });

  const configMap = (name: string, data: Record<string, string>): V1ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, labels: { suite: 'client' } },
    data,
  });

  it('applies (create, then no-op, then update), reads, lists and removes idempotently', async () => {
    const made = await cluster.apply(configMap('a', { k: '1' }));
    const again = await cluster.apply(configMap('a', { k: '1' }));
    expect(again.metadata?.resourceVersion).to.equal(made.metadata?.resourceVersion);
    const changed = await cluster.apply(configMap('a', { k: '2' }));
    expect(changed.metadata?.resourceVersion).to.not.equal(made.metadata?.resourceVersion);
    expect(changed.metadata?.managedFields?.[0]?.manager).to.equal('syncord');

    const read = await cluster.get<V1ConfigMap>('v1', 'ConfigMap', ns, 'a');
    expect(read?.data).to.deep.equal({ k: '2' });
    expect(await cluster.get('v1', 'ConfigMap', ns, 'nope')).to.equal(undefined);
    expect(await cluster.get('v1', 'ConfigMap', 'no-such-namespace-here', 'a')).to.equal(undefined);

    await cluster.apply(configMap('b', {}));
    const listed = await cluster.list<V1ConfigMap>('v1', 'ConfigMap', ns, 'suite=client');
    expect(listed.map((c) => c.metadata?.name).sort()).to.deep.equal(['a', 'b']);
    expect(listed[0]?.kind).to.equal('ConfigMap');

    expect(await cluster.remove('v1', 'ConfigMap', ns, 'a')).to.equal(true);
    expect(await cluster.remove('v1', 'ConfigMap', ns, 'a')).to.equal(false);
    // A precondition on another incarnation's uid removes nothing.
    expect(await cluster.remove('v1', 'ConfigMap', ns, 'b', { uid: 'not-its-uid' })).to.equal(
      false,
    );
    expect(await cluster.get('v1', 'ConfigMap', ns, 'b')).to.not.equal(undefined);
  });

  it('says what the apiserver refused and why, keeping the HTTP code', async () => {
    const invalid = await cluster
      .apply<V1Pod>({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'bad', namespace: ns },
        spec: { containers: [{ name: 'main', image: '' }] },
      })
      .catch((err: unknown) => err);
    expect(invalid).to.be.instanceOf(KubernetesError);
    expect((invalid as KubernetesError).code).to.equal(422);
    expect((invalid as KubernetesError).message).to.equal(
      `Pod ${ns}/bad is invalid: spec.containers[0].image: Required value`,
    );

    const nowhere = await cluster
      .apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'c', namespace: 'absent-ns-x' },
      })
      .catch((err: unknown) => err);
    expect(nowhere).to.be.instanceOf(KubernetesError);
    expect((nowhere as KubernetesError).code).to.equal(404);
    expect((nowhere as KubernetesError).namespaceMissing).to.equal(true);
    expect((nowhere as KubernetesError).message).to.equal(
      'ConfigMap absent-ns-x/c refused by the apiserver: namespaces "absent-ns-x" not found',
    );

    const unknownKind = await cluster
      .apply({
        apiVersion: 'example.com/v1',
        kind: 'Widget',
        metadata: { name: 'w', namespace: ns },
      })
      .catch((err: unknown) => err);
    expect((unknownKind as KubernetesError).message).to.match(
      /^the cluster at https:\/\/.* does not serve Widget \(example\.com\/v1 Widget\): is its CRD installed\?$/,
    );
  });

  it('names the apiserver it cannot reach', async () => {
    const kc = cluster.kubeConfig.exportConfig();
    const dead = KubernetesCluster.fromKubeconfig(
      kc.replace(/"server":"[^"]*"/, '"server":"https://127.0.0.1:1"'),
    );
    const err = await dead.get('v1', 'ConfigMap', ns, 'a').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(KubernetesError);
    expect((err as KubernetesError).code).to.equal(undefined);
    expect((err as KubernetesError).message).to.match(
      new RegExp(
        `^cannot reach the Kubernetes apiserver at https://127\\.0\\.0\\.1:1 for ConfigMap ${ns}/a: `,
      ),
    );
  });

  it('gives up on an apiserver that accepts the connection and never answers', async () => {
    // A TCP server that takes the connection (and the TLS ClientHello) and says nothing.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const kc = cluster.kubeConfig.exportConfig();
      const mute = KubernetesCluster.fromKubeconfig(
        kc.replace(/"server":"[^"]*"/, `"server":"https://127.0.0.1:${String(port)}"`),
        undefined,
        { requestTimeoutMs: 500 },
      );
      const started = Date.now();
      const err = await mute.get('v1', 'ConfigMap', ns, 'a').catch((e: unknown) => e);
      expect(Date.now() - started).to.be.below(20_000);
      expect(err).to.be.instanceOf(KubernetesError);
      expect((err as KubernetesError).reason).to.equal('Timeout');
      expect((err as KubernetesError).message).to.equal(
        `the Kubernetes apiserver at https://127.0.0.1:${String(port)} did not answer in time for ConfigMap ${ns}/a (the request was abandoned after SYNCORD_KUBE_TIMEOUT_MS, default 30 s)`,
      );
    } finally {
      silent.close();
    }
  });

  it('watches: lists, follows changes, resumes when the apiserver ends the watch', async () => {
    const events: string[] = [];
    await cluster.apply(configMap('w1', { v: '1' }));
    const watch = cluster
      .watch<V1ConfigMap>({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: ns,
        labelSelector: 'suite=client',
        timeoutSeconds: 1,
        onEvent: (type: WatchEventType, cm) => {
          events.push(`${type} ${cm.metadata?.name ?? ''} ${cm.data?.v ?? ''}`);
        },
      })
      .start();
    await watch.synced();
    expect(events).to.include('ADDED w1 1');
    // Past the one-second watch timeout: the changes still arrive, from a resumed watch.
    await new Promise((r) => setTimeout(r, 2500));
    await cluster.apply(configMap('w1', { v: '2' }));
    await cluster.apply(configMap('w2', { v: '1' }));
    await cluster.remove('v1', 'ConfigMap', ns, 'w2');
    await eventually('the events', () =>
      Promise.resolve(events.includes('DELETED w2 1') ? true : undefined),
    );
    expect(events).to.include.members(['MODIFIED w1 2', 'ADDED w2 1']);
    expect(watch.listCount).to.equal(1);
    expect(watch.get(ns, 'w1')?.data).to.deep.equal({ v: '2' });
    await watch.stop();
  });

  it('keeps trying a watch it cannot start, reporting each failure, until stopped', async () => {
    const kc = cluster.kubeConfig.exportConfig();
    const dead = KubernetesCluster.fromKubeconfig(
      kc.replace(/"server":"[^"]*"/, '"server":"https://127.0.0.1:1"'),
    );
    const errors: string[] = [];
    const watch = dead
      .watch({
        apiVersion: 'v1',
        kind: 'Pod',
        minRetryMs: 50,
        onEvent: () => undefined,
        onError: (err) => errors.push(err.message),
      })
      .start();
    await eventually('three failures', () =>
      Promise.resolve(errors.length >= 3 ? true : undefined),
    );
    await watch.stop();
    expect(errors[0]).to.match(
      /^cannot reach the Kubernetes apiserver at https:\/\/127\.0\.0\.1:1/,
    );
  });
});
