// Candidates of one object from several backends (a pod's interface is a Kubernetes
// network-status entry, an OVN switch port and a VTN port with one MAC; a network is a NAD, a
// switch and a VTN network with one subnet) are merged into one: handles united, what one
// backend tells filling what another only guessed, a disagreement named. The real backends'
// merge is tested on the rig (test/kubernetes/adopt.test.ts).
import { expect } from 'chai';
import {
  mergeCandidates,
  networkIdentity,
  pickCandidates,
  portIdentity,
  type AdoptCandidate,
} from '../../synchronizer/adopt.js';

const MAC = '0a:58:0a:50:00:05';
const SUBNET = '10.80.0.0/24';
const NO_INSTANCE = 'its instance is unknown: name the ServiceInstance its ports belong to';

/** One pod with one interface, as each backend shows it. */
function site(): AdoptCandidate[] {
  return [
    {
      key: 'ovn/Logical_Switch/sw-red',
      backend: 'ovn',
      kind: 'Logical_Switch',
      name: 'sw-red',
      detail: `subnet ${SUBNET}`,
      model: 'Network',
      values: { name: 'sw-red', subnet: SUBNET, gateway: '10.80.0.1' },
      handle: { 'ovn/Logical_Switch': 'sw-red' },
      identity: networkIdentity(SUBNET),
      guessed: ['name'],
    },
    {
      key: 'ovn/Logical_Switch_Port/lsp-1',
      backend: 'ovn',
      kind: 'Logical_Switch_Port',
      name: 'lsp-1',
      detail: `${MAC} 10.80.0.5`,
      model: 'Port',
      values: { name: 'lsp-1', ip: '10.80.0.5', mac: MAC },
      refs: { network_id: 'ovn/Logical_Switch/sw-red' },
      handle: { 'ovn/Logical_Switch_Port': 'lsp-1' },
      identity: portIdentity(MAC.toUpperCase()),
      guessed: ['service_instance_id', 'name'],
      problem: NO_INSTANCE,
      guessOnly: true,
    },
    {
      key: 'kubernetes/NetworkAttachmentDefinition/ns/red',
      backend: 'kubernetes',
      kind: 'NetworkAttachmentDefinition',
      name: 'red',
      namespace: 'ns',
      detail: `ovn4nfv on sw-red`,
      model: 'Network',
      values: { name: 'red', subnet: SUBNET },
      handle: { 'kubernetes/NetworkAttachmentDefinition': 'ns/red' },
      identity: networkIdentity(SUBNET),
    },
    {
      key: 'kubernetes/Pod/ns/web',
      backend: 'kubernetes',
      kind: 'Pod',
      name: 'web',
      namespace: 'ns',
      detail: 'nginx:1.25',
      model: 'KubernetesServiceInstance',
      values: { name: 'web' },
      handle: { 'kubernetes/Pod': 'ns/web' },
    },
    {
      key: 'kubernetes/Interface/ns/web/net1',
      backend: 'kubernetes',
      kind: 'Interface',
      name: 'web/net1',
      namespace: 'ns',
      detail: `net1 of web on red: ${MAC} 10.80.0.5`,
      model: 'Port',
      values: { name: 'web-net1', ip: '10.80.0.5', mac: MAC },
      refs: {
        network_id: 'kubernetes/NetworkAttachmentDefinition/ns/red',
        service_instance_id: 'kubernetes/Pod/ns/web',
      },
      handle: { 'kubernetes/Interface': 'ns/web/net1' },
      identity: portIdentity(MAC),
      guessed: ['name'],
      facts: { 'node device': 'of:aa' },
    },
    {
      key: 'vtn/VtnPort/p-1',
      backend: 'vtn',
      kind: 'VtnPort',
      name: 'p-1',
      detail: `${MAC} 10.80.0.5`,
      model: 'Port',
      values: { name: 'p-1', ip: '10.80.0.5', mac: MAC, service_instance_id: 7 },
      handle: { 'vtn/Port': 'p-1', 'ovn/Logical_Switch_Port': 'lsp-1' },
      identity: portIdentity(MAC),
      guessed: ['service_instance_id', 'name'],
      facts: { 'node device': 'of:aa' },
    },
  ];
}

describe('synchronizer: merging candidates of one object', () => {
  it('merges one port and one network from every backend that shows them', () => {
    const out = mergeCandidates(site());
    expect(out.map((c) => c.key)).to.deep.equal([
      'kubernetes/NetworkAttachmentDefinition/ns/red',
      'kubernetes/Pod/ns/web',
      'kubernetes/Interface/ns/web/net1',
    ]);
    const [net, , port] = out;
    expect(net!.also).to.deep.equal(['ovn/Logical_Switch/sw-red']);
    expect(net!.backend).to.equal('kubernetes+ovn');
    expect(net!.handle).to.deep.equal({
      'kubernetes/NetworkAttachmentDefinition': 'ns/red',
      'ovn/Logical_Switch': 'sw-red',
    });
    // The lead's name; what only OVN tells (the gateway) is kept.
    expect(net!.values).to.deep.equal({ name: 'red', subnet: SUBNET, gateway: '10.80.0.1' });
    expect(net!.problem).to.equal(undefined);

    expect(port!.also).to.deep.equal(['vtn/VtnPort/p-1', 'ovn/Logical_Switch_Port/lsp-1']);
    expect(port!.handle).to.deep.equal({
      'kubernetes/Interface': 'ns/web/net1',
      'vtn/Port': 'p-1',
      'ovn/Logical_Switch_Port': 'lsp-1',
    });
    // Kubernetes tells whose interface it is: OVN's missing instance and VTN's guess give way.
    expect(port!.problem).to.equal(undefined);
    expect(port!.guessed).to.deep.equal(['name']);
    expect(port!.facts).to.deep.equal({ 'node device': 'of:aa' });
    expect(port!.values).to.deep.equal({ name: 'web-net1', ip: '10.80.0.5', mac: MAC });
    expect(port!.refs).to.deep.equal({
      network_id: 'kubernetes/NetworkAttachmentDefinition/ns/red',
      service_instance_id: 'kubernetes/Pod/ns/web',
    });
    expect(port!.detail)
      .to.contain('kubernetes: net1 of web')
      .and.contain('ovn: ')
      .and.contain('vtn: ');
  });

  it('names the backends that disagree on a value, and the guess of one that is alone', () => {
    const cands = site();
    cands[5]!.values.ip = '10.80.0.6';
    const port = mergeCandidates(cands).find((c) => c.model === 'Port')!;
    expect(port.problem).to.equal('ip: kubernetes says 10.80.0.5, vtn says 10.80.0.6');

    // Without Kubernetes, VTN's guess stands for the instance, and OVN's problem goes with it
    // only when something tells it: a guess is no answer.
    const alone = mergeCandidates(site().filter((c) => c.backend !== 'kubernetes'));
    const lsp = alone.find((c) => c.model === 'Port')!;
    expect(lsp.key).to.equal('vtn/VtnPort/p-1');
    expect(lsp.values.service_instance_id).to.equal(7);
    expect(lsp.guessed).to.deep.equal(['name', 'service_instance_id']);
    expect(lsp.problem).to.equal(`ovn: ${NO_INSTANCE}`);
  });

  it('names a fact, or a name, two backends tell differently; keeps a problem that is no guess', () => {
    const cands = site();
    cands[5]!.facts = { 'node device': 'of:bb' };
    const port = mergeCandidates(cands).find((c) => c.model === 'Port')!;
    expect(port.problem).to.equal('node device: kubernetes says of:aa, vtn says of:bb');

    // The VTN network's name is told (VTN stores it): unlike the switch's, it must agree.
    const withVtn = [
      ...site(),
      {
        key: 'vtn/ServiceNetwork/n-1',
        backend: 'vtn',
        kind: 'ServiceNetwork',
        name: 'n-1',
        detail: SUBNET,
        model: 'Network',
        values: { name: 'red-net', subnet: SUBNET },
        handle: { 'vtn/ServiceNetwork': 'n-1' },
        identity: networkIdentity(SUBNET),
      },
    ];
    const net = mergeCandidates(withVtn).find((c) => c.model === 'Network')!;
    expect(net.problem).to.equal('name: kubernetes says red, vtn says red-net');

    // OVN's port with a problem of its own (not only its unknown instance) keeps it.
    const real = site();
    real[1]!.problem = 'it has DHCP options';
    delete real[1]!.guessOnly;
    const lsp = mergeCandidates(real).find((c) => c.model === 'Port')!;
    expect(lsp.problem).to.equal('ovn: it has DHCP options');
  });

  it('refuses a port two backends put on different networks', () => {
    const cands = site();
    // OVN's switch has another subnet now: two networks, and the port's references disagree.
    cands[0]!.identity = networkIdentity('10.81.0.0/24');
    const out = mergeCandidates(cands);
    expect(out.filter((c) => c.model === 'Network')).to.have.length(2);
    const port = out.find((c) => c.model === 'Port')!;
    expect(port.problem).to.equal(
      'network_id: kubernetes/NetworkAttachmentDefinition/ns/red and ovn/Logical_Switch/sw-red differ',
    );
  });

  it('leaves candidates with no identity, or alone with theirs, as they are', () => {
    const cands = site().filter((c) => c.backend === 'ovn');
    const out = mergeCandidates(cands);
    expect(out).to.deep.equal(site().filter((c) => c.backend === 'ovn'));
  });

  it('finds a merged candidate by any of its keys', () => {
    const out = mergeCandidates(site());
    const { chosen, missing } = pickCandidates(out, [
      'ovn/Logical_Switch_Port/lsp-1',
      'kubernetes/Pod/ns/web',
      'ovn/Logical_Switch/nope',
    ]);
    expect(chosen.map((c) => c.key)).to.deep.equal([
      'kubernetes/Pod/ns/web',
      'kubernetes/Interface/ns/web/net1',
    ]);
    expect(missing).to.deep.equal(['ovn/Logical_Switch/nope']);
  });
});
