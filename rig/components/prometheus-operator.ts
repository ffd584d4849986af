// The Prometheus Operator's ServiceMonitor and PrometheusRule CustomResourceDefinitions on the
// rig's kube-apiserver, so the Helm chart's monitoring objects (deploy/helm/syncord) can be applied
// and are checked against the operator's real schema. The CRD files come from the operator's Go
// module at the version in rig/versions.json (rig/build.ts copies them out of it); no operator
// runs, so nothing scrapes or evaluates: the objects are validated and stored.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { RigContext } from '../component.js';
import { versions } from '../config.js';
import { waitFor } from '../process.js';
import { phase } from '../ui.js';

/** Set on each applied CRD: a hash of its file, so an unchanged CRD is not applied again. */
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
  // The generated client sends the body as it is (see rig/components/kubevirt.ts: the object API
  // would drop the schema's x-kubernetes-* keywords).
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

/** Applies the ServiceMonitor and PrometheusRule CRDs `rig up` copied from the operator's module. */
export async function installPrometheusOperatorCrds(ctx: RigContext): Promise<void> {
  await phase(`install Prometheus Operator ${versions.prometheusOperator} CRDs`, async () => {
    const dir = join(ctx.bins.prometheusOperatorCrds, 'crds');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    if (!files.length) throw new Error(`no CRD files in ${dir}`);
    const crds = files
      .sort()
      .map((f) => parse(readFileSync(join(dir, f), 'utf8')) as k8s.V1CustomResourceDefinition);
    await applyCrds(ctx, "the Prometheus Operator's CRDs", crds);
  });
}
