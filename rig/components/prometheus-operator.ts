// The Prometheus Operator's ServiceMonitor and PrometheusRule CustomResourceDefinitions on the
// rig's kube-apiserver, so the Helm chart's monitoring objects (deploy/helm/syncord) can be applied
// and are checked against the operator's real schema. The CRD files come from the operator's Go
// module at the version in rig/versions.json (rig/build.ts copies them out of it); no operator
// runs, so nothing scrapes or evaluates: the objects are validated and stored.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { RigContext } from '../component.js';
import { versions } from '../config.js';
import { phase } from '../ui.js';
import { applyCrds } from './crds.js';

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
