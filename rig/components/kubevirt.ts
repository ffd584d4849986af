// KubeVirt's CustomResourceDefinitions on the rig's kube-apiserver. KubeVirt ships no static CRD
// file: its virt-operator makes the CRDs at run time with KubeVirt's own generator. The rig builds a
// small program on that generator (rig/go/kubevirt, from kubevirt.io/kubevirt at the version in
// rig/versions.json), runs it and server-side applies what it prints, so the apiserver validates
// VirtualMachines against KubeVirt's real schema. No KubeVirt controller runs: the objects are
// validated and stored, and nothing starts a virtual machine.
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { RigContext } from '../component.js';
import { versions } from '../config.js';
import { run } from '../process.js';
import { phase } from '../ui.js';
import { applyCrds } from './crds.js';

/** The generator's binary, in the folder `rig up` builds it into (rig/build.ts). */
export const KUBEVIRT_CRDS_BINARY = 'kubevirt-crds';

/**
 * Applies KubeVirt's CRDs (server-side apply by the rig's field manager) and waits until the
 * apiserver serves them. A CRD already there, Established and with the same generated spec is
 * left alone, so a second `rig up` only runs the generator and reads the CRDs.
 */
export async function installKubevirtCrds(ctx: RigContext): Promise<void> {
  await phase(`install KubeVirt ${versions.kubevirt} CRDs`, async () => {
    const out = await run(join(ctx.bins.kubevirtCrds, KUBEVIRT_CRDS_BINARY), []);
    const list = JSON.parse(out) as { items: k8s.V1CustomResourceDefinition[] };
    if (!list.items.length) throw new Error(`${KUBEVIRT_CRDS_BINARY} printed no CRDs`);
    await applyCrds(ctx, "KubeVirt's CRDs", list.items);
  });
}
