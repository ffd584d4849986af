// Applying CustomResourceDefinitions to the rig's kube-apiserver (KubeVirt's, the Prometheus
// Operator's): server-side apply, skipped when the same spec is there and Established.
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { RigContext } from '../component.js';
import { waitFor } from '../process.js';

/** Set on each applied CRD: a hash of its spec, so an unchanged CRD is not applied again. */
const SPEC_HASH = 'rig.syncord.io/spec-hash';

const established = (crd: k8s.V1CustomResourceDefinition) =>
  (crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');

/**
 * Server-side applies CRDs (field manager syncord-rig) unless the same spec is there and
 * Established, then waits until the apiserver serves every one of them.
 */
export async function applyCrds(
  ctx: RigContext,
  what: string,
  crds: k8s.V1CustomResourceDefinition[],
): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(ctx.kubeconfigs.admin);
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  // The generated client sends this body as it is. (KubernetesObjectApi would first serialize
  // it as a V1CustomResourceDefinition, which expects the client's own property names and so
  // drops every x-kubernetes-* keyword of the schema.)
  const apply = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
  const pending: string[] = [];
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    if (!name) throw new Error(`${what}: a CRD without a name`);
    const hash = createHash('sha256').update(JSON.stringify(crd)).digest('hex').slice(0, 16);
    let current: k8s.V1CustomResourceDefinition | undefined;
    try {
      current = await api.readCustomResourceDefinition({ name });
    } catch (err) {
      if (!(err instanceof k8s.ApiException) || err.code !== 404) throw err;
    }
    if (current && current.metadata?.annotations?.[SPEC_HASH] === hash && established(current)) {
      continue;
    }
    const meta = (crd.metadata ??= {});
    meta.annotations = { ...meta.annotations, [SPEC_HASH]: hash };
    const applied = await api.patchCustomResourceDefinition(
      { name, body: crd, fieldManager: 'syncord-rig', force: true },
      apply,
    );
    if (!established(applied)) pending.push(name);
  }
  await waitFor(
    `${what} Established`,
    async () => {
      for (const name of [...pending]) {
        if (!established(await api.readCustomResourceDefinition({ name }))) return false;
        pending.splice(pending.indexOf(name), 1);
      }
      return true;
    },
    { timeoutMs: 60_000 },
  );
}
