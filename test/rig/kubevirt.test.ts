// The rig's KubeVirt CRDs: made at `rig up` by KubeVirt's own generator at the pinned version
// (rig/go/kubevirt) and applied to the kube-apiserver, which then holds VirtualMachines to
// KubeVirt's real schema. No KubeVirt controller runs, so nothing here starts a VM.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { eventually, kubeConfig, rig, uniqueName } from '../support/rig.js';

const VM = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' };

interface Interface {
  name: string;
  bridge?: object;
  macAddress?: unknown;
  bogus?: unknown;
}

/** A VirtualMachine on one Multus network, booting a container disk. */
function virtualMachine(name: string, networkName: string, iface: Interface) {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name },
    spec: {
      runStrategy: 'Always',
      template: {
        spec: {
          domain: {
            memory: { guest: '1Gi' },
            devices: {
              disks: [{ name: 'root', disk: { bus: 'virtio' } }],
              interfaces: [iface],
            },
          },
          networks: [{ name: 'net1', multus: { networkName } }],
          volumes: [{ name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora:41' } }],
        },
      },
    },
  };
}

/** The apiserver's refusal: HTTP status and message, or undefined when it accepted. */
async function refusal(attempt: Promise<unknown>): Promise<{ code: number; message: string }> {
  const err = await attempt.then(
    () => undefined,
    (e: unknown) => e as { code?: number; body?: unknown },
  );
  if (!err) throw new Error('the apiserver accepted the VirtualMachine');
  const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body);
  const status = JSON.parse(body) as { message?: string };
  return { code: err.code ?? 0, message: status.message ?? body };
}

describe('rig: KubeVirt CRDs', function () {
  this.timeout(60_000);
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let ext: k8s.ApiextensionsV1Api;
  let ns: string;

  before(async function () {
    this.timeout(45 * 60_000);
    const kc = kubeConfig(await rig());
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    ns = uniqueName('rig-kubevirt');
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await eventually(`the default ServiceAccount in ${ns}`, () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: ns }),
    );
    await custom.createNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace: ns,
      plural: 'network-attachment-definitions',
      body: {
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'nad' },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'nad', type: 'bridge' }) },
      },
    });
  });

  after(async () => {
    if (ns) await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  const create = (body: object, fieldValidation?: string) =>
    custom.createNamespacedCustomObject({ ...VM, namespace: ns, body, fieldValidation });

  it("serves kubevirt.io/v1 VirtualMachine from KubeVirt's generated CRD, with its schema", async () => {
    const crd = await ext.readCustomResourceDefinition({ name: 'virtualmachines.kubevirt.io' });
    expect(crd.metadata?.labels).to.have.property('kubevirt.io');
    expect(crd.spec.names.kind).to.equal('VirtualMachine');
    const established = crd.status?.conditions?.find((c) => c.type === 'Established');
    expect(established?.status).to.equal('True');
    const v1 = crd.spec.versions.find((v) => v.name === 'v1');
    expect(v1?.served).to.equal(true);
    expect(v1?.storage).to.equal(true);
    const vmi =
      v1?.schema?.openAPIV3Schema?.properties?.spec?.properties?.template?.properties?.spec
        ?.properties;
    // (items is typed any: a schema or a list of schemas.)
    const items = (p?: k8s.V1JSONSchemaProps) => p?.items as k8s.V1JSONSchemaProps | undefined;
    expect(items(vmi?.networks)?.properties?.multus?.required).to.deep.equal(['networkName']);
    const iface = items(vmi?.domain?.properties?.devices?.properties?.interfaces);
    expect(iface?.properties?.macAddress?.type).to.equal('string');
    // The apiserver serves the resource: listing answers, empty.
    const list = (await custom.listNamespacedCustomObject({ ...VM, namespace: ns })) as {
      items: unknown[];
    };
    expect(list.items).to.deep.equal([]);
    // And the VirtualMachineInstance the VM's template describes has its CRD too.
    const vmiCrd = await ext.readCustomResourceDefinition({
      name: 'virtualmachineinstances.kubevirt.io',
    });
    expect(vmiCrd.spec.names.kind).to.equal('VirtualMachineInstance');
  });

  it('accepts a VirtualMachine on a Multus network and stores it as sent', async () => {
    const vm = virtualMachine('vm-ok', `${ns}/nad`, {
      name: 'net1',
      bridge: {},
      macAddress: '02:00:00:00:00:01',
    });
    await create(vm, 'Strict');
    const read = (await custom.getNamespacedCustomObject({
      ...VM,
      namespace: ns,
      name: 'vm-ok',
    })) as typeof vm;
    expect(read.spec).to.deep.equal(vm.spec);
  });

  it('refuses an interface whose macAddress is a number, naming the field', async () => {
    const vm = virtualMachine('vm-bad-mac', `${ns}/nad`, {
      name: 'net1',
      bridge: {},
      macAddress: 42,
    });
    const { code, message } = await refusal(create(vm));
    expect(code).to.equal(422);
    expect(message).to.include('spec.template.spec.domain.devices.interfaces[0].macAddress');
    expect(message).to.match(/must be of type string/);
  });

  it('refuses an unknown interface field with fieldValidation=Strict, naming it', async () => {
    const iface = { name: 'net1', bridge: {}, macAddress: '02:00:00:00:00:02', bogus: true };
    const { code, message } = await refusal(
      create(virtualMachine('vm-bogus', `${ns}/nad`, iface), 'Strict'),
    );
    expect(code).to.equal(400);
    expect(message).to.include(
      'unknown field "spec.template.spec.domain.devices.interfaces[0].bogus"',
    );
    // Without Strict the schema prunes the field instead: the stored interface lacks it.
    await create(virtualMachine('vm-pruned', `${ns}/nad`, iface), 'Ignore');
    const read = (await custom.getNamespacedCustomObject({
      ...VM,
      namespace: ns,
      name: 'vm-pruned',
    })) as ReturnType<typeof virtualMachine>;
    expect(read.spec.template.spec.domain.devices.interfaces[0]).to.deep.equal({
      name: 'net1',
      bridge: {},
      macAddress: '02:00:00:00:00:02',
    });
  });

  it('refuses a VirtualMachine without the domain KubeVirt requires', async () => {
    const vm = virtualMachine('vm-no-domain', `${ns}/nad`, { name: 'net1', bridge: {} });
    const spec: { domain?: unknown } = vm.spec.template.spec;
    delete spec.domain;
    const { code, message } = await refusal(create(vm));
    expect(code).to.equal(422);
    expect(message).to.include('spec.template.spec.domain: Required value');
  });
});
