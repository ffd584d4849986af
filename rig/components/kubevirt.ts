// KubeVirt's CustomResourceDefinitions on the rig's kube-apiserver. KubeVirt ships no static CRD
// file: its virt-operator makes the CRDs at run time with KubeVirt's own generator. The rig builds a
// small program on that generator (rig/go/kubevirt, from kubevirt.io/kubevirt at the version in
// rig/versions.json), runs it and server-side applies what it prints, so the apiserver validates
// VirtualMachines against KubeVirt's real schema. No KubeVirt controller runs: the objects are
// validated and stored, and nothing starts a virtual machine.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { RigContext } from '../component.js';
import { versions } from '../config.js';
import { run, waitFor } from '../process.js';
import { phase } from '../ui.js';

/** The generator's binary, in the folder `rig up` builds it into (rig/build.ts). */
export const KUBEVIRT_CRDS_BINARY = 'kubevirt-crds';

/** Set on each applied CRD: a hash of what the generator printed, so unchanged CRDs are skipped. */
const SPEC_HASH = 'rig.syncord.io/spec-hash';

const established = (crd: k8s.V1CustomResourceDefinition) =>
  (crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');

/**
 * Applies KubeVirt's CRDs (server-side apply by the rig's field manager) and waits until the
 * apiserver serves them. A CRD already there, Established and with the same generated spec is
 * left alone, so a second `rig up` only runs the generator and lists the CRDs.
 */
export async function installKubevirtCrds(ctx: RigContext): Promise<void> {
  await phase(`install KubeVirt ${versions.kubevirt} CRDs`, async () => {
    const out = await run(join(ctx.bins.kubevirtCrds, KUBEVIRT_CRDS_BINARY), []);
    const list = JSON.parse(out) as { items: k8s.V1CustomResourceDefinition[] };
    if (!list.items.length) throw new Error(`${KUBEVIRT_CRDS_BINARY} printed no CRDs`);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(ctx.kubeconfigs.admin);
    const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
    // KubeVirt labels its CRDs kubevirt.io="" (newBlankCrd in its generator).
    const present = new Map(
      (await api.listCustomResourceDefinition({ labelSelector: 'kubevirt.io' })).items.map(
        (crd) => [crd.metadata?.name ?? '', crd],
      ),
    );
    // The generated client sends this body as it is. (KubernetesObjectApi would first serialize
    // it as a V1CustomResourceDefinition, which expects the client's own property names and so
    // drops every x-kubernetes-* keyword of the schema.)
    const apply = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
    const pending: string[] = [];
    for (const crd of list.items) {
      const name = crd.metadata?.name ?? '';
      const hash = createHash('sha256').update(JSON.stringify(crd)).digest('hex').slice(0, 16);
      const current = present.get(name);
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
      "KubeVirt's CRDs Established",
      async () => {
        for (const name of [...pending]) {
          if (!established(await api.readCustomResourceDefinition({ name }))) return false;
          pending.splice(pending.indexOf(name), 1);
        }
        return true;
      },
      { timeoutMs: 60_000 },
    );
  });
}
