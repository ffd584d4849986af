// The model service against the rig's PostgreSQL: what an operator relies on when editing models.
import { expect } from 'chai';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  PreconditionError,
  ValidationError,
} from '../../models/errors.js';
import type { ModelService } from '../../models/service.js';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

function fields(err: Error): Record<string, string> {
  expect(err).to.be.instanceOf(ValidationError, err.message);
  return Object.fromEntries((err as ValidationError).errors.map((e) => [e.field, e.reason]));
}

/** Runs the suite against databases on the PostgreSQL server that `server` gives. */
export function serviceSuite(where: string, server: () => Promise<string>): void {
  describe(`models: the model service (${where})`, function () {
    this.timeout(60_000);
    let db: ScratchDb;
    let svc: ModelService;
    let base: Awaited<ReturnType<typeof baseObjects>>;

    before(async function () {
      this.timeout(45 * 60_000);
      db = await scratchDb(await server());
      svc = db.service;
      base = await baseObjects(svc);
    });
    after(async () => {
      await db.drop();
    });

    const count = async (table: string) =>
      (await db.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

    describe('create and validation', () => {
      it('creates an object with its defaults and bookkeeping, version 1 and pending', async () => {
        const net = await svc.create('Network', { name: 'mgmt', subnet: '10.1.0.0/24' });
        expect(net).to.include({
          leaf_model: 'Network',
          name: 'mgmt',
          subnet: '10.1.0.0/24',
          type: 'PRIVATE',
          provider: 'ovn',
          dhcp: true,
          version: 1,
          synced_version: 0,
          backend_code: 0,
          deleted_at: null,
        });
        expect(net.gateway, 'the default gateway: the first usable address').to.equal('10.1.0.1');
        // Create, get and list give the same object, keys in the same order.
        const got = await svc.get('Network', net.id);
        const listed = await svc.list('Network', { filter: [{ field: 'id', value: net.id }] });
        expect(JSON.stringify(got)).to.equal(JSON.stringify(net));
        expect(JSON.stringify(listed.items[0])).to.equal(JSON.stringify(net));
      });

      it('reports every missing required field at once and writes nothing', async () => {
        const before = await count('service_instance');
        const err = await failure(svc.create('VSGServiceInstance', {}));
        expect(fields(err)).to.have.all.keys('name', 'owner_id', 's_tag', 'c_tag');
        expect(Object.values(fields(err))).to.satisfy((r: string[]) =>
          r.every((x) => x === 'is required'),
        );
        expect(await count('service_instance')).to.equal(before);
      });

      it('names every bad field with its reason', async () => {
        const err = await failure(
          svc.create('Network', {
            name: 'bad',
            subnet: '10.0.0.1/24',
            type: 'NOPE',
            mtu: 100,
            segment_id: 'x',
            colour: 'red',
            backend_code: 1,
            created_at: '2020-01-01',
          }),
        );
        const f = fields(err);
        expect(f.subnet).to.match(/host bits set; the network is 10\.0\.0\.0\/24/);
        expect(f.type).to.match(/must be one of PRIVATE, PUBLIC/);
        expect(f.mtu).to.equal('must be at least 576');
        expect(f.segment_id).to.match(/must be an integer/);
        expect(f.colour).to.equal('Network has no such field');
        expect(f.backend_code).to.equal('is written by the synchronizer only');
        expect(f.created_at).to.match(/set by Syncord/);
        expect(err.message).to.match(/^invalid Network: /);
      });

      it('checks a network plan: gateway and excluded ranges inside the subnet', async () => {
        const err = await failure(
          svc.create('Network', {
            name: 'plan',
            subnet: '10.2.0.0/24',
            gateway: '10.3.0.1',
            exclude_ips: '10.2.0.10..10.2.0.5',
          }),
        );
        const f = fields(err);
        expect(f.gateway).to.equal('10.3.0.1 is not inside 10.2.0.0/24');
        expect(f.exclude_ips).to.match(/range runs backwards/);
      });

      it('refuses references to missing, deleted or wrong-kind objects', async () => {
        const gone = await svc.create('Image', { name: 'gone', tag: 'x' });
        await svc.delete('Image', gone.id);
        const k8s = await svc.create('KubernetesService', { name: 'k8s-svc' });
        const err = await failure(
          svc.create('VNFServiceInstance', {
            name: 'refs',
            owner_id: 99999,
            slice_id: base.slice.id,
            image_id: gone.id,
            flavor: 'small',
          }),
        );
        const f = fields(err);
        expect(f.flavor_id).to.match(/must be the id of a Flavor/);
        const err2 = await failure(
          svc.create('VNFServiceInstance', {
            name: 'refs',
            owner_id: 99999,
            slice_id: base.slice.id,
            image_id: gone.id,
          }),
        );
        expect(fields(err2)).to.deep.equal({
          owner_id: 'no Service with id 99999',
          image_id: `Image ${String(gone.id)} is being deleted`,
        });
        // A reference to a base model accepts every kind of it: a VSG instance's owner is a Service.
        const ok = await svc.create('VSGServiceInstance', {
          name: 'any-kind',
          owner_id: k8s.id,
          s_tag: 1,
          c_tag: 1,
        });
        expect(ok.owner_id).to.equal(k8s.id);
      });

      it('hashes passwords and never returns them', async () => {
        const user = await svc.create('User', { name: 'ann', password: 'correct horse' });
        expect(user).not.to.have.property('password');
        const stored = await db.sql.query<{ password: string }>(
          'SELECT password FROM "user" WHERE id = $1',
          [user.id],
        );
        expect(stored.rows[0]!.password).to.match(/^scrypt\$/);
        expect(await svc.checkPassword('User', user.id, 'password', 'correct horse')).to.be.true;
        expect(await svc.checkPassword('User', user.id, 'password', 'wrong horse')).to.be.false;
        expect(
          fields(await failure(svc.create('User', { name: 'bob', password: 'short' }))),
        ).to.deep.equal({ password: 'must be at least 8 characters' });
      });
    });

    describe('uniqueness', () => {
      it('names are unique per trust domain, and the error names the holder', async () => {
        const other = await svc.create('TrustDomain', {
          name: 'other-td',
          owner_id: base.service.id,
        });
        const a = await svc.create('Principal', { name: 'sa', trust_domain_id: base.td.id });
        await svc.create('Principal', { name: 'sa', trust_domain_id: other.id });
        const err = await failure(
          svc.create('Principal', { name: 'sa', trust_domain_id: base.td.id }),
        );
        expect(err).to.be.instanceOf(AlreadyExistsError);
        expect((err as AlreadyExistsError).holder).to.deep.equal({ model: 'Principal', id: a.id });
        expect(fields(err).name).to.equal(
          `sa is already used by Principal ${String(a.id)} with trust_domain_id ${String(base.td.id)}`,
        );
      });

      it('a name is free again once its holder is deleted', async () => {
        const s = await svc.create('Site', { name: 'reused' });
        await svc.delete('Site', s.id);
        const again = await svc.create('Site', { name: 'reused' });
        expect(again.id).to.not.equal(s.id);
      });

      it('unique sets of a subclass hold within that subclass', async () => {
        const vsg = await svc.create('VSGService', { name: 'vsg' });
        const first = await svc.create('VSGServiceInstance', {
          name: 'gw-1',
          owner_id: vsg.id,
          s_tag: 100,
          c_tag: 200,
        });
        const err = await failure(
          svc.create('VSGServiceInstance', {
            name: 'gw-2',
            owner_id: vsg.id,
            s_tag: 100,
            c_tag: 200,
          }),
        );
        expect(err).to.be.instanceOf(AlreadyExistsError);
        expect((err as AlreadyExistsError).holder).to.deep.equal({
          model: 'VSGServiceInstance',
          id: first.id,
        });
      });

      it('a bulk create that repeats a name fails whole, naming the item', async () => {
        const before = await count('site');
        const err = await failure(
          svc.createMany('Site', [{ name: 'bulk-a' }, { name: 'bulk-b' }, { name: 'bulk-a' }]),
        );
        expect(err).to.be.instanceOf(AlreadyExistsError);
        expect(await count('site')).to.equal(before);
      });
    });

    describe('update', () => {
      it('bumps the version on an edit, not on a no-op, and honours expected_version', async () => {
        const f = await svc.create('Flavor', { name: 'm1', vcpus: 1, memory_mb: 512 });
        const same = await svc.update('Flavor', f.id, { vcpus: 1 });
        expect(same.version).to.equal(1);
        const v2 = await svc.update('Flavor', f.id, { vcpus: 2 }, { expectedVersion: 1 });
        expect(v2).to.include({ vcpus: 2, version: 2 });
        const err = await failure(svc.update('Flavor', f.id, { vcpus: 8 }, { expectedVersion: 1 }));
        expect(err).to.be.instanceOf(ConflictError);
        expect((err as ConflictError).currentVersion).to.equal(2);
        expect((err as ConflictError).current).to.include({ vcpus: 2 });
        expect(await svc.get('Flavor', f.id)).to.include({ vcpus: 2, version: 2 });
      });

      it('refuses immutable and feedback fields, and changes nothing on a bad update', async () => {
        const net = await svc.create('Network', { name: 'imm', subnet: '10.5.0.0/24' });
        const vnf = await svc.create('VNFServiceInstance', {
          name: 'imm-vnf',
          owner_id: base.service.id,
          slice_id: base.slice.id,
          image_id: base.image.id,
        });
        const port = await svc.create('Port', {
          network_id: net.id,
          service_instance_id: vnf.id,
          interface_name: 'net1',
        });
        const other = await svc.create('Network', { name: 'imm2', subnet: '10.6.0.0/24' });
        const err = await failure(
          svc.update('Port', port.id, {
            network_id: other.id,
            port_id: 'abc',
            interface_name: 'x'.repeat(20),
          }),
        );
        expect(fields(err)).to.deep.equal({
          network_id: 'cannot be changed after creation',
          port_id: 'is written by the synchronizer only',
          interface_name: 'is 20 characters; at most 15',
        });
        expect(await svc.get('Port', port.id)).to.deep.equal(port);
      });

      it('status writes by the synchronizer never bump the version', async () => {
        const net = await svc.create('Network', { name: 'status', subnet: '10.7.0.0/24' });
        const s = await svc.setStatus('Network', net.id, {
          backend_code: 2,
          backend_status: 'logical switch refused: subnet overlaps',
          failures: 3,
          next_attempt_at: '2030-01-01T00:00:00.000Z',
        });
        expect(s).to.include({
          version: 1,
          backend_code: 2,
          failures: 3,
          next_attempt_at: '2030-01-01T00:00:00.000Z',
        });
        const vnf = await svc.create('KubernetesService', { name: 'fb' });
        expect(vnf.version).to.equal(1);
        const err = await failure(svc.setStatus('Network', net.id, { feedback: { subnet: 'x' } }));
        expect(fields(err)).to.deep.equal({ subnet: 'is not a feedback field of Network' });
        const done = await svc.setStatus('Network', net.id, {
          backend_code: 1,
          backend_status: 'logical switch ls-1 created',
          synced_version: 1,
          failures: 0,
          next_attempt_at: null,
        });
        expect(done).to.include({ version: 1, synced_version: 1, backend_code: 1, failures: 0 });
      });

      it('write_protect refuses edits and deletes until it is cleared', async () => {
        const site = await svc.create('Site', { name: 'protected', write_protect: true });
        expect(await failure(svc.update('Site', site.id, { enabled: false }))).to.be.instanceOf(
          PreconditionError,
        );
        expect(await failure(svc.delete('Site', site.id))).to.be.instanceOf(PreconditionError);
        await svc.update('Site', site.id, { write_protect: false });
        await svc.delete('Site', site.id);
      });
    });

    describe('delete and reap', () => {
      it('soft delete hides from list and get, keeps the row until reaped', async () => {
        const img = await svc.create('Image', { name: 'soft', tag: '1' });
        const { object } = await svc.delete('Image', img.id);
        expect(object.deleted_at).to.be.a('string');
        expect(object.version).to.equal(2);
        expect(await failure(svc.get('Image', img.id))).to.be.instanceOf(NotFoundError);
        const listed = await svc.list('Image', { filter: [{ field: 'name', value: 'soft' }] });
        expect(listed.items).to.deep.equal([]);
        const withDeleted = await svc.list('Image', {
          filter: [{ field: 'name', value: 'soft' }],
          includeDeleted: true,
        });
        expect(withDeleted.items.map((i) => i.id)).to.deep.equal([img.id]);
        expect(await count(`image WHERE id = ${String(img.id)}`)).to.equal(1);
        await svc.reap('Image', img.id);
        expect(await count(`image WHERE id = ${String(img.id)}`)).to.equal(0);
      });

      it('cascades over cascading references, refuses over restricting ones, clears set-null', async () => {
        const site = await svc.create('Site', { name: 'del-site' });
        const svcA = await svc.create('Service', { name: 'del-svc' });
        const td = await svc.create('TrustDomain', { name: 'del-td', owner_id: svcA.id });
        const p = await svc.create('Principal', { name: 'del-sa', trust_domain_id: td.id });
        const slice = await svc.create('Slice', {
          name: 'del-slice',
          site_id: site.id,
          trust_domain_id: td.id,
          principal_id: p.id,
        });
        // The service owns the trust domain (restrict): it cannot go first.
        const blocked = await failure(svc.delete('Service', svcA.id));
        expect(blocked).to.be.instanceOf(PreconditionError);
        expect(blocked.message).to.include(`still used by TrustDomain ${String(td.id)} (owner_id)`);
        // The trust domain takes its principal and slice with it.
        const result = await svc.delete('TrustDomain', td.id);
        expect(result.cascaded).to.deep.include.members([
          { model: 'Principal', id: p.id },
          { model: 'Slice', id: slice.id },
        ]);
        expect(await failure(svc.get('Slice', slice.id))).to.be.instanceOf(NotFoundError);
        // Now nothing live refers to the service.
        await svc.delete('Service', svcA.id);
        // Set-null: a cluster keeps living when its site goes.
        const s2 = await svc.create('Site', { name: 'del-site2' });
        const cl = await svc.create('Cluster', { name: 'cl', kind: 'kubernetes', site_id: s2.id });
        await svc.delete('Site', s2.id);
        expect(await svc.get('Cluster', cl.id)).to.include({ site_id: null, version: 2 });
      });

      it('a parent is reaped only after its children', async () => {
        const site = await svc.create('Site', { name: 'reap-site' });
        const node = await svc.create('Node', { name: 'reap-node', site_id: site.id });
        await svc.delete('Site', site.id);
        const err = await failure(svc.reap('Site', site.id));
        expect(err).to.be.instanceOf(PreconditionError);
        await svc.reap('Node', node.id);
        await svc.reap('Site', site.id);
        expect(await failure(svc.get('Site', site.id, { includeDeleted: true }))).to.be.instanceOf(
          NotFoundError,
        );
      });
    });

    describe('list', () => {
      before(async () => {
        await svc.createMany(
          'Flavor',
          Array.from({ length: 25 }, (_, i) => ({
            name: `list-${String(i).padStart(2, '0')}`,
            vcpus: (i % 4) + 1,
            memory_mb: i % 5 === 0 ? null : 1024 * (i % 3),
            description: `flavor number ${String(i)}`,
          })).map((f) => (f.memory_mb === 0 ? { ...f, memory_mb: 256 } : f)),
        );
      });

      it('pages through everything exactly once, in the order asked, with nulls last', async () => {
        for (const orderBy of [
          [{ field: 'name', desc: true }],
          [{ field: 'vcpus' }, { field: 'name' }],
          [{ field: 'memory_mb', desc: true }],
          [{ field: 'memory_mb' }],
        ]) {
          const seen: Record<string, unknown>[] = [];
          let token: string | undefined;
          for (let i = 0; i < 10; i++) {
            const page = await svc.list('Flavor', {
              filter: [{ field: 'name', op: 'contains', value: 'list-' }],
              orderBy,
              pageSize: 7,
              pageToken: token,
            });
            seen.push(...page.items);
            if (!page.nextPageToken) break;
            token = page.nextPageToken;
          }
          const all = await svc.list('Flavor', {
            filter: [{ field: 'name', op: 'contains', value: 'list-' }],
            pageSize: 100,
          });
          expect(seen.length, JSON.stringify(orderBy)).to.equal(25);
          expect(new Set(seen.map((x) => x.id)).size).to.equal(25);
          const expected = [...all.items].sort((a, b) => {
            for (const o of orderBy) {
              const x = a[o.field] as number | string | null;
              const y = b[o.field] as number | string | null;
              if (x === y) continue;
              if (x === null) return 1;
              if (y === null) return -1;
              return (x < y ? -1 : 1) * ('desc' in o && o.desc ? -1 : 1);
            }
            return a.id - b.id;
          });
          expect(seen.map((x) => x.id)).to.deep.equal(expected.map((x) => x.id));
        }
      });

      it('filters with operators', async () => {
        const names = async (filter: { field: string; op?: never; value?: unknown }[]) =>
          (await svc.list('Flavor', { filter: filter, pageSize: 100 })).items
            .map((x) => x.name as string)
            .filter((n) => n.startsWith('list-'));
        expect(await names([{ field: 'vcpus', op: 'ge' as never, value: 4 }])).to.have.length(6);
        expect(await names([{ field: 'memory_mb', op: 'isnull' as never }])).to.have.length(5);
        expect(
          await names([{ field: 'name', op: 'in' as never, value: ['list-01', 'list-02'] }]),
        ).to.deep.equal(['list-01', 'list-02']);
        const bad = await failure(
          svc.list('Flavor', {
            filter: [
              { field: 'nope', value: 1 },
              { field: 'vcpus', value: 'many' },
            ],
          }),
        );
        expect(fields(bad)).to.deep.equal({
          'filter[0].field': 'Flavor has no field nope to filter on',
          'filter[1].value': 'must be an integer, not "many"',
        });
      });

      it('listing a base model shows every kind; a subclass only its own', async () => {
        const all = await svc.list('Service', { pageSize: 100 });
        const kinds = new Set(all.items.map((s) => s.leaf_model));
        expect(kinds).to.include.members(['VNFService', 'KubernetesService']);
        const vnf = await svc.list('VNFService', { pageSize: 100 });
        expect(new Set(vnf.items.map((s) => s.leaf_model))).to.deep.equal(new Set(['VNFService']));
        expect(vnf.items[0]).to.have.property('vendor');
      });

      it('refuses a page token from another listing', async () => {
        const page = await svc.list('Flavor', { pageSize: 2 });
        const err = await failure(
          svc.list('Flavor', {
            pageSize: 2,
            pageToken: page.nextPageToken!,
            orderBy: [{ field: 'name' }],
          }),
        );
        expect(Object.keys(fields(err))).to.deep.equal(['page_token']);
        expect(fields(await failure(svc.list('Flavor', { pageToken: 'garbage' })))).to.have.key(
          'page_token',
        );
      });
    });
  });
}
