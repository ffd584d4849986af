// The OpenStack steps' view of a Cluster (steps/openstack/view.ts): a poll's listing replaces it
// but for what the steps wrote after the poll began; a step's row older than what is there is
// dropped; groups follow the rows; freshness follows the polls.
import { expect } from 'chai';
import type { NeutronPort } from '../../backends/openstack/resources.js';
import { ClusterView, ViewTable } from '../../steps/openstack/view.js';

const port = (id: string, owner: string, device = ''): NeutronPort => ({
  id,
  name: `syncord-t-${owner}`,
  network_id: 'n1',
  mac_address: 'fa:16:3e:00:00:01',
  fixed_ips: [{ subnet_id: 's1', ip_address: '10.0.0.2' }],
  device_id: device,
  device_owner: '',
  status: 'ACTIVE',
  tags: ['syncord-instance=t', `syncord-owner=${owner}`],
});

describe('unit: the OpenStack view of a Cluster', () => {
  it('a poll replaces the rows, but for those the steps wrote after it began', () => {
    const t = new ViewTable<string>();
    t.replace(
      [
        ['a', 'a0'],
        ['b', 'b0'],
      ],
      100,
    );
    t.put('a', 'a1', 150); // a step's lookup begun after the poll
    t.put('b', undefined, 150); // a step's delete
    t.put('c', 'c1', 150); // a step's create
    t.put('a', 'stale', 120); // older than what is there: dropped
    expect(['a', 'b', 'c'].map((k) => t.get(k))).to.deep.equal(['a1', undefined, 'c1']);
    // A poll begun before the steps' writes: they stay.
    t.replace(
      [
        ['a', 'a2'],
        ['b', 'b2'],
      ],
      140,
    );
    expect(['a', 'b', 'c'].map((k) => t.get(k))).to.deep.equal(['a1', undefined, 'c1']);
    // A poll begun after them: it says what is.
    t.replace([['b', 'b3']], 200);
    expect(['a', 'b', 'c'].map((k) => t.get(k))).to.deep.equal([undefined, 'b3', undefined]);
  });

  it('groups ports by owner tag and by server, as the rows change', () => {
    const v = new ClusterView();
    v.ports.replace(
      [
        ['p1', port('p1', 'Port:1', 'srv')],
        ['p2', port('p2', 'Port:2', 'srv')],
      ],
      100,
    );
    expect(v.ports.group('device:srv').map((p) => p.id)).to.deep.equal(['p1', 'p2']);
    expect(v.ports.group('syncord-owner=Port:2').map((p) => p.id)).to.deep.equal(['p2']);
    v.ports.put('p2', undefined, 110);
    v.ports.put('p3', port('p3', 'Port:1'), 110);
    expect(v.ports.group('device:srv').map((p) => p.id)).to.deep.equal(['p1']);
    expect(v.ports.group('syncord-owner=Port:1').map((p) => p.id)).to.deep.equal(['p1', 'p3']);
    expect(v.ports.group('syncord-owner=Port:2')).to.deep.equal([]);
  });

  it('is fresh only after a complete poll, for the time given, and never for 0', () => {
    const v = new ClusterView();
    expect(v.fresh(30_000, 1000)).to.equal(false);
    v.apply({
      begin: 1000,
      servers: [],
      ports: [],
      networks: [],
      subnets: [],
      flavors: [{ id: 'f1', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 }],
      images: new Map(),
    });
    expect(v.fresh(30_000, 20_000)).to.equal(true);
    expect(v.fresh(30_000, 31_000)).to.equal(false);
    expect(v.fresh(0, 1000)).to.equal(false);
    expect(v.flavors?.map((f) => f.name)).to.deep.equal(['m1.tiny']);
    // A step's flavor list older than the poll's is dropped.
    v.putFlavors([], 900);
    expect(v.flavors).to.have.length(1);
  });
});
