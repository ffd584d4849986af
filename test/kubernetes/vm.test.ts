// VM VNFs on Kubernetes: a VNFServiceInstance with workload `vm` becomes a KubeVirt
// VirtualMachine, checked by the rig's kube-apiserver against KubeVirt's real CRD schema (the rig
// generates the CRDs with KubeVirt's own generator). One Multus network per Port on the same NADs
// as pods, the Port's MAC on its interface and its address in cloud-init's network data; no pod;
// a container image refused with the reason; a workload switched to container trades the VM for
// a pod; a deleted instance takes its VM and the NADs nothing else uses. (kwok runs no KubeVirt
// controllers, so the VM is never started here: what is checked is what Syncord asks for.)
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import type { ModelObject, ModelService } from '../../models/service.js';
import { useKubernetesSteps, vnfTenant } from '../support/kube-steps.js';
import { eventually, uniqueName } from '../support/rig.js';

const VM = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' };
const NAD = { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions' };

interface VmSpec {
  runStrategy: string;
  template: {
    spec: {
      domain: {
        cpu?: { cores: number };
        memory: { guest: string };
        devices: { interfaces: { name: string; macAddress: string; bridge?: object }[] };
      };
      networks: { name: string; multus: { networkName: string } }[];
      volumes: {
        name: string;
        containerDisk?: { image: string };
        cloudInitNoCloud?: { userData?: string; networkData?: string };
      }[];
    };
  };
}

describe('kubernetes: VM VNFs as KubeVirt VirtualMachines', function () {
  this.timeout(120_000);
  const h = useKubernetesSteps('vmtest', { baseMs: 300, maxMs: 1000 });
  let svc: ModelService;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  before(() => {
    ({ svc, core, custom } = h);
  });

  /** A trust domain, slice, VM image and flavor, two networks, and a VM VNF with a port on each. */
  async function world(image: { kind: string } = { kind: 'vm' }) {
    const name = uniqueName('vm');
    const { owner, slice, networks } = await vnfTenant(svc, name, [
      { suffix: 'access', subnet: '10.81.0.0/24', provider: 'ovn' },
      { suffix: 'wan', subnet: '10.82.0.0/24', provider: 'ovn' },
    ]);
    const [access, wan] = networks as [ModelObject, ModelObject];
    const img = await svc.create('Image', {
      name: `quay.example/${name}/fw-disk`,
      tag: '2.1',
      kind: image.kind,
    });
    const flavor = await svc.create('Flavor', { name: `${name}-small`, vcpus: 2, memory_mb: 512 });
    const { vnf, ports } = await svc.transaction(async (tx) => {
      const vnf = await tx.create('VNFServiceInstance', {
        name: `${name}-fw`,
        owner_id: owner.id,
        slice_id: slice.id,
        image_id: img.id,
        flavor_id: flavor.id,
        workload: 'vm',
        config: { runcmd: ['echo up'] },
      });
      const ports = [
        await tx.create('Port', {
          network_id: access.id,
          service_instance_id: vnf.id,
          interface_name: 'eth1',
        }),
        await tx.create('Port', {
          network_id: wan.id,
          service_instance_id: vnf.id,
          interface_name: 'eth2',
        }),
      ];
      return { vnf, ports };
    });
    return { ns: name, vnf, ports, img, vmName: `${name}-fw` };
  }

  const get = (model: string, id: number) => svc.get(model, id, { includeDeleted: true });
  const status = async (o: ModelObject, code: number) =>
    eventually(
      `${o.leaf_model} ${String(o.id)} at backend_code ${String(code)}`,
      async () => {
        const now = await get(o.leaf_model, o.id);
        // An error leaves synced_version behind: only ok says it caught up.
        return now.backend_code === code && (code !== 1 || now.synced_version === now.version)
          ? now
          : undefined;
      },
      60_000,
    ).catch(async (err: unknown) => {
      const now = await get(o.leaf_model, o.id);
      throw new Error(`${(err as Error).message}; it says: ${String(now.backend_status)}`, {
        cause: err,
      });
    });
  const readVm = (ns: string, name: string) =>
    custom
      .getNamespacedCustomObject({ ...VM, namespace: ns, name })
      .then((o) => o as { metadata: k8s.V1ObjectMeta; spec: VmSpec })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      });
  const listPods = async (ns: string) => (await core.listNamespacedPod({ namespace: ns })).items;

  it('makes a VirtualMachine on the NADs of its ports, with their MACs and addresses, and no pod', async () => {
    const w = await world();
    const si = await status(w.vnf, 1);
    expect(si.backend_status).to.match(/VirtualMachine/);
    const vm = await readVm(w.ns, w.vmName);
    expect(vm, 'the VirtualMachine').to.not.equal(undefined);
    const spec = vm!.spec.template.spec;
    expect(vm!.spec.runStrategy).to.equal('Always');
    const ports = await Promise.all(w.ports.map((p) => get('Port', p.id)));
    expect(spec.domain.devices.interfaces.map((i) => [i.name, i.macAddress])).to.deep.equal(
      ports.map((p) => [p.interface_name, p.mac]),
    );
    const nads = (
      (await custom.listNamespacedCustomObject({ ...NAD, namespace: w.ns })) as {
        items: { metadata: { name: string } }[];
      }
    ).items.map((n) => `${w.ns}/${n.metadata.name}`);
    for (const n of spec.networks) expect(nads).to.include(n.multus.networkName);
    expect(spec.domain.cpu?.cores).to.equal(2);
    expect(spec.domain.memory.guest).to.equal('512Mi');
    const disk = spec.volumes.find((v) => v.containerDisk);
    expect(disk?.containerDisk?.image).to.equal(`${String(w.img.name)}:2.1`);
    const init = spec.volumes.find((v) => v.cloudInitNoCloud)?.cloudInitNoCloud;
    expect(init?.userData).to.match(/^#cloud-config\n/);
    const net = JSON.parse(init?.networkData ?? '{}') as {
      ethernets: Record<string, { match: { macaddress: string }; addresses: string[] }>;
    };
    for (const p of ports) {
      const eth = net.ethernets[String(p.interface_name)];
      expect(eth?.match.macaddress).to.equal(p.mac);
      expect(eth?.addresses[0]).to.match(new RegExp(`^${String(p.ip).replace(/\./g, '\\.')}/24$`));
    }
    expect(await listPods(w.ns), 'no pod for a VM').to.deep.equal([]);
  });

  it('refuses a container image for a VM, saying why', async () => {
    const w = await world({ kind: 'container' });
    const si = await status(w.vnf, 2);
    expect(si.backend_status).to.match(/is a container image; a VM needs an image of kind vm/);
    expect(await readVm(w.ns, w.vmName)).to.equal(undefined);
  });

  it('trades the VM for a pod when the workload turns to container, and back', async () => {
    const w = await world();
    await status(w.vnf, 1);
    // A container needs a container image.
    const img = await svc.create('Image', { name: `registry.example/${w.ns}/fw`, tag: '2.1' });
    const edited = await svc.update('VNFServiceInstance', w.vnf.id, {
      workload: 'container',
      image_id: img.id,
    });
    await status(edited, 1);
    await eventually('the VM removed', async () =>
      (await readVm(w.ns, w.vmName)) === undefined ? true : undefined,
    );
    const pods = await listPods(w.ns);
    expect(pods.map((p) => p.metadata?.name)).to.deep.equal([w.vmName]);
  });

  it('deleting the instance removes its VM, and the NADs nothing else uses', async () => {
    const w = await world();
    await status(w.vnf, 1);
    await svc.delete('VNFServiceInstance', w.vnf.id);
    await eventually(
      'the VM and the instance gone',
      async () => {
        const vm = await readVm(w.ns, w.vmName);
        const row = await svc
          .get('VNFServiceInstance', w.vnf.id, { includeDeleted: true })
          .catch(() => undefined);
        return vm === undefined && row === undefined ? true : undefined;
      },
      60_000,
    );
    const nads = (await custom.listNamespacedCustomObject({ ...NAD, namespace: w.ns })) as {
      items: unknown[];
    };
    expect(nads.items).to.deep.equal([]);
  });
});
