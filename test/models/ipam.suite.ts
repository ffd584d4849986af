// IPAM in PostgreSQL: addresses and MACs for Ports, against the rig's PostgreSQL.
import { expect } from 'chai';
import { AlreadyExistsError, ValidationError } from '../../models/errors.js';
import { ModelService, type ModelObject } from '../../models/service.js';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';

async function failure(p: Promise<unknown>): Promise<ValidationError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

const reasons = (err: ValidationError) =>
  Object.fromEntries(err.errors.map((e) => [e.field, e.reason]));

/** Runs the suite against databases on the PostgreSQL server that `server` gives. */
export function ipamSuite(where: string, server: () => Promise<string>): void {
  describe(`models: IPAM (${where})`, function () {
    this.timeout(60_000);
    let db: ScratchDb;
    let svc: ModelService;
    let base: Awaited<ReturnType<typeof baseObjects>>;
    let seq = 0;

    before(async function () {
      this.timeout(45 * 60_000);
      db = await scratchDb(await server(), 60);
      svc = db.service;
      base = await baseObjects(svc, 'ipam');
    });
    after(async () => {
      await db.drop();
    });

    const instance = () =>
      svc.create('VNFServiceInstance', {
        name: `vnf-${String(++seq)}`,
        owner_id: base.service.id,
        slice_id: base.slice.id,
        image_id: base.image.id,
      });
    const port = async (network: ModelObject, extra: Record<string, unknown> = {}) =>
      svc.create('Port', {
        network_id: network.id,
        service_instance_id: (await instance()).id,
        interface_name: 'net1',
        ...extra,
      });

    it('hands out addresses in order, skipping the gateway and excluded ranges', async () => {
      const net = await svc.create('Network', {
        name: 'seq',
        subnet: '10.10.0.0/24',
        exclude_ips: '10.10.0.3..10.10.0.5 10.10.0.7',
      });
      const ips: unknown[] = [];
      for (let i = 0; i < 4; i++) ips.push((await port(net)).ip);
      expect(ips).to.deep.equal(['10.10.0.2', '10.10.0.6', '10.10.0.8', '10.10.0.9']);
      const p = await port(net);
      expect(p.mac).to.match(/^0a:58(:[0-9a-f]{2}){4}$/);
      const rows = await db.sql.query<{ address: string; mac: string }>(
        `SELECT host(a.address) AS address, m.mac::text AS mac FROM syncord_ipam_address a
           JOIN syncord_ipam_mac m USING (port_id) WHERE a.port_id = $1`,
        [p.id],
      );
      expect(rows.rows).to.deep.equal([{ address: p.ip, mac: p.mac }]);
    });

    it('honours a static request and refuses one that is taken, naming the holder', async () => {
      const net = await svc.create('Network', { name: 'static', subnet: '10.11.0.0/24' });
      const held = await port(net, { ip: '10.11.0.50', mac: '02:00:00:00:00:50' });
      expect(held).to.include({ ip: '10.11.0.50', mac: '02:00:00:00:00:50' });
      const before = (await svc.list('Port', { pageSize: 1000 })).items.length;
      const err = await failure(port(net, { ip: '10.11.0.50', mac: '02-00-00-00-00-50' }));
      const holderSi = held.service_instance_id as number;
      expect(reasons(err)).to.deep.equal({
        ip: `10.11.0.50 is held by Port ${String(held.id)} (net1 of VNFServiceInstance ${String(holderSi)}) on Network static`,
        mac: `02:00:00:00:00:50 is held by Port ${String(held.id)} (net1 of VNFServiceInstance ${String(holderSi)})`,
      });
      expect((await svc.list('Port', { pageSize: 1000 })).items.length).to.equal(before);
    });

    it('refuses static addresses outside the plan, with the reason', async () => {
      const net = await svc.create('Network', {
        name: 'plan',
        subnet: '10.12.0.0/24',
        gateway: '10.12.0.254',
        exclude_ips: '10.12.0.100..10.12.0.110',
      });
      const cases: [string, string][] = [
        ['10.13.0.5', '10.13.0.5 is not inside 10.12.0.0/24 (Network plan)'],
        ['10.12.0.254', '10.12.0.254 is the gateway of Network plan'],
        ['10.12.0.105', '10.12.0.105 is excluded on Network plan (exclude_ips)'],
        ['10.12.0.255', '10.12.0.255 is not a usable address of 10.12.0.0/24'],
        ['fd00::5', 'fd00::5 is IPv6; Network plan is 10.12.0.0/24'],
      ];
      for (const [ip, reason] of cases) {
        expect(reasons(await failure(port(net, { ip }))), ip).to.deep.equal({ ip: reason });
      }
      // The first dynamic address is the first usable one, since the gateway sits at the top.
      expect((await port(net)).ip).to.equal('10.12.0.1');
    });

    it('allocates IPv6 addresses', async () => {
      const net = await svc.create('Network', { name: 'v6', subnet: 'fd00:10::/64' });
      const a = await port(net);
      const b = await port(net);
      expect([a.ip, b.ip]).to.deep.equal(['fd00:10::2', 'fd00:10::3']);
      const s = await port(net, { ip: 'FD00:10:0:0::ABCD' });
      expect(s.ip).to.equal('fd00:10::abcd');
    });

    it('never hands an address out twice under 50 concurrent allocations', async () => {
      const net = await svc.create('Network', { name: 'race', subnet: '10.14.0.0/24' });
      const instances = await svc.createMany(
        'VNFServiceInstance',
        Array.from({ length: 50 }, (_, i) => ({
          name: `race-${String(i)}`,
          owner_id: base.service.id,
          slice_id: base.slice.id,
          image_id: base.image.id,
        })),
      );
      // 50 transactions at once on separate connections, plus 5 racing for one static address.
      const dynamic = instances.map((si) =>
        svc.create('Port', { network_id: net.id, service_instance_id: si.id, interface_name: 'a' }),
      );
      const statics = instances.slice(0, 5).map((si) =>
        svc.create('Port', {
          network_id: net.id,
          service_instance_id: si.id,
          interface_name: 'b',
          ip: '10.14.0.200',
        }),
      );
      const results = await Promise.allSettled([...dynamic, ...statics]);
      const made = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
      expect(made).to.have.length(51);
      expect(refused).to.have.length(4);
      for (const e of refused) expect(e.message).to.match(/10\.14\.0\.200 is held by Port/);
      const ips = made.map((p) => p.ip as string);
      expect(new Set(ips).size).to.equal(51);
      const macs = made.map((p) => p.mac as string);
      expect(new Set(macs).size).to.equal(51);
      const stored = await db.sql.query<{ n: number; d: number }>(
        'SELECT count(*)::int AS n, count(DISTINCT address)::int AS d FROM syncord_ipam_address WHERE network_id = $1',
        [net.id],
      );
      expect(stored.rows[0]).to.deep.equal({ n: 51, d: 51 });
    });

    it('keeps the address of a deleted port until it is reaped, then reuses it', async () => {
      const net = await svc.create('Network', { name: 'reap', subnet: '10.15.0.0/29' });
      // /29: .1 is the gateway, .2 to .6 usable.
      const ports: ModelObject[] = [];
      for (let i = 0; i < 5; i++) ports.push(await port(net));
      expect(ports.map((p) => p.ip)).to.deep.equal([
        '10.15.0.2',
        '10.15.0.3',
        '10.15.0.4',
        '10.15.0.5',
        '10.15.0.6',
      ]);
      const full = await failure(port(net));
      expect(reasons(full).ip).to.equal(
        'Network reap (10.15.0.0/29) has no free address: its 5 usable addresses are all allocated',
      );
      await svc.delete('Port', ports[1]!.id);
      expect(reasons(await failure(port(net))).ip).to.match(/no free address/);
      await svc.reap('Port', ports[1]!.id);
      expect((await port(net)).ip).to.equal('10.15.0.3');
    });

    it('moves a port to a new static address on update, releasing the old one', async () => {
      const net = await svc.create('Network', { name: 'move', subnet: '10.16.0.0/24' });
      const p = await port(net);
      expect(p.ip).to.equal('10.16.0.2');
      const moved = await svc.update('Port', p.id, { ip: '10.16.0.77' });
      expect(moved).to.include({ ip: '10.16.0.77', version: 2 });
      const again = await port(net, { ip: '10.16.0.2' });
      expect(again.ip).to.equal('10.16.0.2');
      const cleared = await svc.update('Port', p.id, { ip: null });
      expect(cleared).to.include({ ip: '10.16.0.77', version: 2 });
    });

    it("refuses a change of a network's plan that would strand allocated addresses", async () => {
      const net = await svc.create('Network', { name: 'replan', subnet: '10.17.0.0/24' });
      const p = await port(net);
      const e1 = await failure(svc.update('Network', net.id, { subnet: '10.18.0.0/24' }));
      expect(reasons(e1).subnet).to.match(/cannot change while 1 addresses are allocated on it/);
      const e2 = await failure(
        svc.update('Network', net.id, { exclude_ips: '10.17.0.2..10.17.0.9' }),
      );
      expect(reasons(e2).exclude_ips).to.include(`10.17.0.2 (Port ${String(p.id)}`);
      const ok = await svc.update('Network', net.id, { exclude_ips: '10.17.0.100..10.17.0.109' });
      expect(ok.version).to.equal(2);
    });

    it('a MAC is unique across networks', async () => {
      const a = await svc.create('Network', { name: 'mac-a', subnet: '10.19.0.0/24' });
      const b = await svc.create('Network', { name: 'mac-b', subnet: '10.20.0.0/24' });
      await port(a, { mac: '0A:58:00:00:00:01' });
      const err = await failure(port(b, { mac: '0a:58:00:00:00:01' }));
      expect(err).not.to.be.instanceOf(AlreadyExistsError);
      expect(reasons(err).mac).to.match(/^0a:58:00:00:00:01 is held by Port \d+/);
    });
  });
}
