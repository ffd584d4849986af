// The demo behind `npm start`: Syncord serving on its embedded database (or DATABASE_URL), a
// sample vSG service chain created in it (a trust domain, three networks, two vSG instances and
// one VNF), and the objects followed until they are all synchronized and their pods Running with
// their interfaces. Running it again changes nothing that is already there. Ctrl-C stops it; with
// --exit it stops once everything is up.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createUser } from '../api/users.js';
import { defaultDataDir } from '../models/embedded.js';
import { defaultRegistry } from '../models/index.js';
import type { ModelObject, ModelService } from '../models/service.js';
import * as k8s from '@kubernetes/client-node';
import { defaultSteps } from '../steps/index.js';
import { podNameOf } from '../steps/kubernetes/pod.js';
import { namespaceOf } from '../steps/kubernetes/runtime.js';
import { serve } from '../synchronizer/serve.js';

const exitWhenDone = process.argv.includes('--exit');
const say = (line: string) => {
  process.stdout.write(`${line}\n`);
};

/** The object with this name, created with these values when it does not exist yet. */
async function ensure(
  models: ModelService,
  model: string,
  values: Record<string, unknown>,
  match: Record<string, unknown> = { name: values.name },
): Promise<ModelObject> {
  const found = await models.list(model, {
    filter: Object.entries(match).map(([field, value]) => ({ field, value })),
  });
  return found.items[0] ?? (await models.create(model, values));
}

async function createChain(models: ModelService): Promise<ModelObject[]> {
  const vsg = await ensure(models, 'VSGService', { name: 'vsg', dns_servers: '8.8.8.8' });
  const fw = await ensure(models, 'VNFService', { name: 'firewall', vendor: 'acme' });
  await ensure(
    models,
    'ServiceDependency',
    { provider_service_id: fw.id, subscriber_service_id: vsg.id, connect_method: 'private' },
    { provider_service_id: fw.id, subscriber_service_id: vsg.id },
  );
  const site = await ensure(models, 'Site', { name: 'co1', abbreviated_name: 'Central Office 1' });
  const td = await ensure(models, 'TrustDomain', { name: 'subscriber-a', owner_id: vsg.id });
  const slice = await ensure(models, 'Slice', {
    name: 'vsg-slice',
    site_id: site.id,
    trust_domain_id: td.id,
    service_id: vsg.id,
  });
  const fwSlice = await ensure(models, 'Slice', {
    name: 'firewall-slice',
    site_id: site.id,
    trust_domain_id: td.id,
    service_id: fw.id,
  });
  const access = await ensure(models, 'Network', {
    name: 'access',
    subnet: '10.100.0.0/24',
    type: 'VSG',
    segment_id: 100,
  });
  const wan = await ensure(models, 'Network', {
    name: 'wan',
    subnet: '10.101.0.0/24',
    type: 'PUBLIC',
    segment_id: 101,
  });
  const mgmt = await ensure(models, 'Network', {
    name: 'mgmt',
    subnet: '10.102.0.0/24',
    type: 'MANAGEMENT_LOCAL',
    segment_id: 102,
  });
  for (const net of [access, wan, mgmt]) {
    await ensure(
      models,
      'NetworkSlice',
      { network_id: net.id, slice_id: slice.id },
      { network_id: net.id, slice_id: slice.id },
    );
  }
  const vsgImage = await ensure(
    models,
    'Image',
    { name: 'opencord/vsg', tag: '1.0' },
    { name: 'opencord/vsg', tag: '1.0' },
  );
  const fwImage = await ensure(
    models,
    'Image',
    { name: 'acme/firewall', tag: '2.1' },
    { name: 'acme/firewall', tag: '2.1' },
  );
  const small = await ensure(models, 'Flavor', { name: 'small', vcpus: 1, memory_mb: 256 });
  const instances: ModelObject[] = [];
  for (const [name, cTag] of [
    ['gw-1', 10],
    ['gw-2', 11],
  ] as const) {
    instances.push(
      await ensure(models, 'VSGServiceInstance', {
        name,
        owner_id: vsg.id,
        slice_id: slice.id,
        image_id: vsgImage.id,
        s_tag: 100,
        c_tag: cTag,
      }),
    );
  }
  const vnf = await ensure(models, 'VNFServiceInstance', {
    name: 'fw-1',
    owner_id: fw.id,
    slice_id: fwSlice.id,
    image_id: fwImage.id,
    flavor_id: small.id,
    workload: 'container',
    config: { rules: ['allow 10.100.0.0/24'] },
  });
  instances.push(vnf);
  for (const [i, net] of [wan, mgmt].entries()) {
    await ensure(
      models,
      'Port',
      { network_id: net.id, service_instance_id: vnf.id, interface_name: `net${String(i + 1)}` },
      { network_id: net.id, service_instance_id: vnf.id },
    );
  }
  return instances;
}

function statusOf(o: ModelObject): string {
  if (o.backend_code === 1 && o.synced_version === o.version) return 'ok';
  const why = typeof o.backend_status === 'string' ? o.backend_status : '';
  if (o.backend_code === 2) return why; // the engine writes "error: ..."
  return `pending${why ? `: ${why}` : ''}`;
}

/**
 * The pod's phase as the cluster has it now. The statuses in the database may come from an
 * earlier run, on a cluster that is gone: only the live pod says it runs.
 */
async function livePhase(models: ModelService, si: ModelObject): Promise<string | undefined> {
  const slice = await models.get('Slice', si.slice_id as number);
  const td = await models.get('TrustDomain', slice.trust_domain_id as number);
  try {
    const pod = await core.readNamespacedPod({ namespace: namespaceOf(td), name: podNameOf(si) });
    return pod.status?.phase;
  } catch {
    return undefined;
  }
}

async function report(models: ModelService, instances: ModelObject[]): Promise<boolean> {
  let allUp = true;
  const lines: string[] = [];
  for (const model of ['TrustDomain', 'Network', 'NetworkSlice', 'Port']) {
    const items = (await models.list(model, { pageSize: 1000 })).items;
    if (!steps.some((s) => models.registry.get(s.observes).family.includes(model))) {
      lines.push(`  ${model.padEnd(20)} ${String(items.length)} (no backend step for it yet)`);
      continue;
    }
    const ok = items.filter((o) => statusOf(o) === 'ok').length;
    if (ok < items.length) allUp = false;
    lines.push(`  ${model.padEnd(20)} ${String(ok)}/${String(items.length)} ok`);
  }
  for (const i of instances) {
    const o = await models.get(i.leaf_model, i.id);
    const ports = (
      await models.list('Port', { filter: [{ field: 'service_instance_id', value: o.id }] })
    ).items;
    const phase = (await livePhase(models, o)) ?? 'no pod yet';
    if (statusOf(o) !== 'ok' || phase !== 'Running') allUp = false;
    const ifaces = ports
      .map((p) => `${String(p.interface_name)}=${String(p.observed_ip ?? p.ip)}`)
      .join(' ');
    lines.push(
      `  ${`${o.leaf_model} ${String(o.name)}`.padEnd(32)} ${statusOf(o).padEnd(10)} pod ${phase}${
        typeof o.node_name === 'string' ? ` on ${o.node_name}` : ''
      }  ${ifaces}`,
    );
  }
  say(lines.join('\n'));
  return allUp;
}

/**
 * Who logs in to the GUI: the first admin. Made here with a random password when there is none
 * (and SYNCORD_ADMIN_PASSWORD did not make one), kept beside the embedded database (mode 0600)
 * so that later runs can say it again.
 */
async function guiLogin(models: ModelService): Promise<string> {
  const file = join(dirname(defaultDataDir()), 'gui-admin.password');
  const roles = await models.list('Role', { filter: [{ field: 'name', value: 'admin' }] });
  const role = roles.items[0];
  const admins = role
    ? await models.list('User', { filter: [{ field: 'role', value: role.id }] })
    : { items: [] };
  if (admins.items.length === 0) {
    const password = randomBytes(12).toString('base64url');
    await createUser(models, { name: 'admin', password, role: 'admin' });
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    return `log in as admin with password ${password} (made now; also in ${file})`;
  }
  if (process.env.SYNCORD_ADMIN_PASSWORD)
    return 'log in with SYNCORD_ADMIN_USER (admin) and SYNCORD_ADMIN_PASSWORD';
  if (existsSync(file)) {
    return `log in as admin with password ${readFileSync(file, 'utf8').trim()} (from ${file})`;
  }
  return 'log in as one of the admins this database already has';
}

const { steps, policies } = defaultSteps();
const kubeconfig = new k8s.KubeConfig();
const kubeconfigFile = process.env.SYNCORD_KUBECONFIG ?? process.env.KUBECONFIG;
if (kubeconfigFile) kubeconfig.loadFromFile(kubeconfigFile);
else kubeconfig.loadFromDefault();
const core = kubeconfig.makeApiClient(k8s.CoreV1Api);
const server = await serve({
  registry: defaultRegistry(),
  steps,
  policies,
  port: Number(process.env.SYNCORD_HTTP_PORT ?? 8080),
  api: { host: '127.0.0.1', port: Number(process.env.SYNCORD_API_PORT ?? 50051) },
  resyncMs: 60_000,
});
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(code);
};
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

const instances = await createChain(server.models);
say(`created the sample vSG chain; following it (metrics at ${server.url}/metrics)`);
const started = Date.now();
for (;;) {
  const up = await report(server.models, instances);
  if (up) {
    say(
      `everything is synchronized and running after ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    if (exitWhenDone) await stop(0);
    say(`the GUI: ${server.url}/ (${await guiLogin(server.models)})`);
    say('serving; Ctrl-C stops (the models stay in the database)');
    break;
  }
  if (Date.now() - started > 180_000) {
    say('not everything is up after 3 minutes: the statuses above say what each object waits for');
    if (exitWhenDone) await stop(1);
    break;
  }
  await new Promise((r) => setTimeout(r, 2000));
}
