// Management and deletion policies, honoured by the engine whatever the step: `observe` only
// reads the backend into status, `create-only` creates once, `orphan` takes the owner mark off
// and leaves the backend object running. Against the rig's PostgreSQL, with steps writing to an
// in-memory backend that logs every call (the real backends' observe and release have their own
// tests against the real processes). Twice: one object at a time, and in batches.
import { expect } from 'chai';
import { Engine, type SyncStep } from '../../synchronizer/engine.js';
import { NotFoundError, ValidationError } from '../../models/errors.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';

/** A backend of objects in a map, each with the owner mark a sync puts on it. */
class FakeBackend {
  readonly objects = new Map<string, Record<string, unknown>>();
  readonly calls: string[] = [];

  constructor(private readonly batch?: number) {}

  step(
    model: string,
    spec: (o: ModelObject) => Record<string, unknown>,
    can: { observe?: boolean; release?: boolean } = {},
  ): SyncStep {
    const keyOf = (o: ModelObject) =>
      `${model}/${typeof o.name === 'string' ? o.name : String(o.id)}`;
    const step: SyncStep = {
      name: `fake/${model}`,
      observes: model,
      batch: this.batch,
      sync: (o) => {
        const key = keyOf(o);
        this.calls.push(`sync ${key}`);
        const existed = this.objects.has(key);
        this.objects.set(key, { ...spec(o), owner: `${model} ${String(o.id)}` });
        return Promise.resolve(`${existed ? 'updated' : 'created'} ${key}`);
      },
      delete: (o) => {
        const key = keyOf(o);
        this.calls.push(`delete ${key}`);
        this.objects.delete(key);
        return Promise.resolve(`deleted ${key}`);
      },
    };
    if (can.observe !== false) {
      step.observe = (o) => {
        const key = keyOf(o);
        this.calls.push(`observe ${key}`);
        const found = this.objects.get(key);
        if (!found) return Promise.reject(new Error(`${key} is not there`));
        const seen = Object.entries(found)
          .filter(([k]) => k !== 'owner')
          .map(([k, v]) => `${k} ${String(v)}`)
          .join(', ');
        return Promise.resolve(`${key}: ${seen}`);
      };
    }
    if (can.release !== false) {
      step.release = (o) => {
        const key = keyOf(o);
        this.calls.push(`release ${key}`);
        const found = this.objects.get(key);
        if (found) delete found.owner;
        return Promise.resolve(`released ${key}`);
      };
    }
    return step;
  }

  callsFor(key: string): string[] {
    return this.calls.filter((c) => c.endsWith(` ${key}`));
  }
}

for (const batch of [undefined, 25]) {
  describe(`synchronizer: management and deletion policies${batch ? `, steps in batches of ${String(batch)}` : ''}`, function () {
    this.timeout(60_000);
    let db: ScratchDb;
    let svc: ModelService;
    let backend: FakeBackend;
    let engine: Engine;
    let owner: ModelObject;

    before(async function () {
      this.timeout(45 * 60_000);
      db = await scratchDb();
      svc = db.service;
      backend = new FakeBackend(batch);
      owner = await svc.create('Service', { name: 'owner' });
      engine = new Engine(
        db.registry,
        svc,
        [
          backend.step('Network', (o) => ({ subnet: o.subnet })),
          backend.step('Port', (o) => ({ ip: o.ip, network: o.network_id })),
          backend.step('TrustDomain', () => ({})),
          backend.step('Principal', () => ({}), { observe: false, release: false }),
        ],
        {
          url: db.url,
          workers: 4,
          resyncMs: 60 * 60_000,
          observeMs: 300,
          backoff: { baseMs: 200, maxMs: 1000 },
        },
      );
      await engine.start();
    });
    after(async () => {
      await engine.stop();
      await db.drop();
    });

    const status = (model: string, id: number, what: string, test: (o: ModelObject) => boolean) =>
      eventually(`${model} ${String(id)} ${what}`, async () => {
        const o = await svc.get(model, id, { includeDeleted: true });
        return test(o) ? o : undefined;
      });
    const reaped = (model: string, id: number) =>
      eventually(`${model} ${String(id)} reaped`, async () => {
        const r = await db.sql.query(
          `SELECT 1 FROM ${db.registry.get(model).table} WHERE id = $1`,
          [id],
        );
        return r.rowCount === 0 ? true : undefined;
      });

    it('refuses a policy that is not one of the choices, naming the field, and writes nothing', async () => {
      for (const [field, value] of [
        ['management_policy', 'sometimes'],
        ['deletion_policy', 'keep'],
        ['management_policy', 3],
      ] as const) {
        const err = await svc
          .create('Network', { name: 'bad-policy', subnet: '10.60.0.0/24', [field]: value })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err, `${field} ${String(value)}`).to.be.instanceOf(ValidationError);
        const problems = (err as ValidationError).errors;
        expect(problems.map((p) => p.field)).to.deep.equal([field]);
        expect(problems[0]!.reason).to.match(/must be (one of|a string)/);
      }
      const left = await svc.list('Network', { filter: [{ field: 'name', value: 'bad-policy' }] });
      expect(left.items).to.have.length(0);
      const plain = await svc.create('Network', { name: 'defaults', subnet: '10.61.0.0/24' });
      expect(plain).to.include({ management_policy: 'full', deletion_policy: 'delete' });
    });

    it('observe: reads the backend into status, follows out-of-band edits, never writes', async () => {
      const net = await svc.create('Network', {
        name: 'seen',
        subnet: '10.62.0.0/24',
        management_policy: 'observe',
      });
      // Not there: an error naming what is missing, and nothing made.
      const missing = await status('Network', net.id, 'in error', (o) => o.backend_code === 2);
      expect(missing.backend_status).to.equal('error: observe: Network/seen is not there');
      expect(backend.objects.has('Network/seen')).to.be.false;

      // Made out of band: observed as it is, though the model says otherwise.
      backend.objects.set('Network/seen', { subnet: '10.99.0.0/24' });
      await svc.update('Network', net.id, { mtu: 1400 }); // an edit retries at once
      const seen = await status('Network', net.id, 'observed', (o) => o.backend_code === 1);
      expect(seen.backend_status).to.equal('observed: Network/seen: subnet 10.99.0.0/24');
      // Listed as ok (what the GUI's badge and the dashboard count), not as pending forever.
      const ok = await svc.list('Network', { status: 'ok', pageSize: 1000 });
      expect(ok.items.map((o) => o.id)).to.include(net.id);
      // Edited out of band: read again without any edit of the model.
      backend.objects.set('Network/seen', { subnet: '10.98.0.0/24' });
      await status(
        'Network',
        net.id,
        'showing the new value',
        (o) => o.backend_status === 'observed: Network/seen: subnet 10.98.0.0/24',
      );
      // A full Port on it does not wait for the observed network to be "synced".
      const si = await svc.create('ServiceInstance', { name: 'si-seen', owner_id: owner.id });
      const port = await svc.create('Port', { network_id: net.id, service_instance_id: si.id });
      await status('Port', port.id, 'synced', (o) => o.backend_code === 1);

      // Deleting the model leaves the backend object as it was.
      await svc.delete('Port', port.id);
      await reaped('Port', port.id);
      await svc.delete('Network', net.id);
      await reaped('Network', net.id);
      expect(backend.objects.get('Network/seen')).to.deep.equal({ subnet: '10.98.0.0/24' });
      const calls = backend.callsFor('Network/seen');
      expect(calls.filter((c) => !c.startsWith('observe '))).to.deep.equal([]);
      expect(calls.length).to.be.greaterThan(2);
    });

    it('observe: what Syncord made before it was observed loses its mark when the model goes', async () => {
      const net = await svc.create('Network', { name: 'was-full', subnet: '10.66.0.0/24' });
      await status('Network', net.id, 'synced', (o) => o.backend_code === 1);
      await svc.update('Network', net.id, { management_policy: 'observe' });
      await status('Network', net.id, 'observed', (o) =>
        String(o.backend_status).startsWith('observed: '),
      );
      await svc.delete('Network', net.id);
      await reaped('Network', net.id);
      expect(backend.objects.get('Network/was-full')).to.deep.equal({ subnet: '10.66.0.0/24' });
      expect(
        backend.callsFor('Network/was-full').filter((c) => !c.startsWith('observe ')),
      ).to.deep.equal(['sync Network/was-full', 'release Network/was-full']);
    });

    it('observe: a step that cannot observe is an error naming it, and nothing is written', async () => {
      const td = await svc.create('TrustDomain', { name: 'td-obs', owner_id: owner.id });
      await status('TrustDomain', td.id, 'synced', (o) => o.backend_code === 1);
      const sa = await svc.create('Principal', {
        name: 'sa-obs',
        trust_domain_id: td.id,
        management_policy: 'observe',
      });
      const failed = await status('Principal', sa.id, 'in error', (o) => o.backend_code === 2);
      expect(failed.backend_status).to.equal(
        'error: observe: management_policy is observe, but fake/Principal cannot observe its backend objects (set full or create-only)',
      );
      expect(backend.callsFor('Principal/sa-obs')).to.deep.equal([]);
      await svc.update('Principal', sa.id, { management_policy: 'full' });
      await status('Principal', sa.id, 'synced', (o) => o.backend_code === 1);
      expect(backend.callsFor('Principal/sa-obs')).to.deep.equal(['sync Principal/sa-obs']);
    });

    it('create-only: creates once, applies no later edit and repairs nothing', async () => {
      const net = await svc.create('Network', {
        name: 'once',
        subnet: '10.63.0.0/24',
        management_policy: 'create-only',
      });
      await status(
        'Network',
        net.id,
        'created',
        (o) => o.backend_code === 1 && o.synced_version === 1,
      );
      expect(backend.objects.get('Network/once')).to.deep.include({ subnet: '10.63.0.0/24' });
      await svc.update('Network', net.id, { subnet: '10.64.0.0/24' });
      const kept = await status(
        'Network',
        net.id,
        'saying the edit is not applied',
        (o) => o.version === 2 && /not applied/.test(String(o.backend_status)),
      );
      expect(kept).to.include({
        backend_code: 1,
        synced_version: 1,
        backend_status: 'create-only: created at version 1; version 2 is not applied',
      });
      backend.objects.set('Network/once', {
        subnet: 'tampered',
        owner: `Network ${String(net.id)}`,
      });
      await engine.resync();
      await eventually('the resync done', () => Promise.resolve(engine.idle() || undefined));
      expect(backend.objects.get('Network/once')?.subnet).to.equal('tampered');
      expect(backend.callsFor('Network/once')).to.deep.equal(['sync Network/once']);
      const ok = await svc.list('Network', { status: 'ok', pageSize: 1000 });
      expect(ok.items.map((o) => o.id)).to.include(net.id);
      // A port on it is not held back by the edit that was not applied.
      const si = await svc.create('ServiceInstance', { name: 'si-once', owner_id: owner.id });
      const port = await svc.create('Port', { network_id: net.id, service_instance_id: si.id });
      await status('Port', port.id, 'synced', (o) => o.backend_code === 1);
      // deletion_policy delete: torn down like any object.
      await svc.delete('Port', port.id);
      await svc.delete('Network', net.id);
      await reaped('Network', net.id);
      expect(backend.objects.has('Network/once')).to.be.false;
    });

    it('orphan: takes the owner mark off, leaves the object, and orphans what goes with it', async () => {
      const td = await svc.create('TrustDomain', {
        name: 'td-orphan',
        owner_id: owner.id,
        deletion_policy: 'orphan',
      });
      const net = await svc.create('Network', { name: 'net-orphan', subnet: '10.65.0.0/24' });
      const si = await svc.create('ServiceInstance', { name: 'si-orphan', owner_id: owner.id });
      const port = await svc.create('Port', {
        network_id: net.id,
        service_instance_id: si.id,
        deletion_policy: 'orphan',
        ip: '10.65.0.10',
      });
      await status('TrustDomain', td.id, 'synced', (o) => o.backend_code === 1);
      await status('Port', port.id, 'synced', (o) => o.backend_code === 1);

      await svc.delete('TrustDomain', td.id);
      await reaped('TrustDomain', td.id);
      expect(backend.objects.get('TrustDomain/td-orphan')).to.deep.equal({});
      expect(backend.callsFor('TrustDomain/td-orphan')).to.deep.equal([
        'sync TrustDomain/td-orphan',
        'release TrustDomain/td-orphan',
      ]);

      // The port's address stays held: its backend object still uses it.
      const portKey = `Port/${String(port.id)}`;
      await svc.delete('Port', port.id);
      await reaped('Port', port.id);
      expect(backend.objects.get(portKey)).to.deep.equal({ ip: '10.65.0.10', network: net.id });
      expect(backend.callsFor(portKey)).to.deep.equal([`sync ${portKey}`, `release ${portKey}`]);
      const err = await svc
        .create('Port', { network_id: net.id, service_instance_id: si.id, ip: '10.65.0.10' })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).errors).to.deep.equal([
        {
          field: 'ip',
          reason: `10.65.0.10 is held by orphaned Port ${String(port.id)} (a port of ServiceInstance ${String(si.id)}), left running in its backend on Network net-orphan`,
        },
      ]);
    });

    it('orphan: deleting with orphan passes it to what the delete cascades to', async () => {
      const td = await svc.create('TrustDomain', {
        name: 'td-cascade',
        owner_id: owner.id,
        deletion_policy: 'orphan',
      });
      const sa = await svc.create('Principal', { name: 'sa-cascade', trust_domain_id: td.id });
      await status('Principal', sa.id, 'synced', (o) => o.backend_code === 1);
      await svc.delete('TrustDomain', td.id);
      // The Principal's step has no release: it says so and keeps the object until it can.
      const stuck = await status('Principal', sa.id, 'in error', (o) => o.backend_code === 2);
      expect(stuck).to.include({ deletion_policy: 'orphan' });
      expect(stuck.backend_status).to.equal(
        'error: deletion_policy is orphan, but fake/Principal cannot take its owner marks off (set its deletion_policy to delete to tear it down)',
      );
      expect(backend.objects.has('Principal/sa-cascade')).to.be.true;
      expect(backend.callsFor('Principal/sa-cascade')).to.deep.equal(['sync Principal/sa-cascade']);
      // A deleted object takes that one edit, and only that one.
      const refused = await svc.update('Principal', sa.id, { name: 'renamed' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).to.be.instanceOf(NotFoundError);
      await svc.update('Principal', sa.id, { deletion_policy: 'delete' });
      await reaped('Principal', sa.id);
      await reaped('TrustDomain', td.id);
      expect(backend.objects.has('Principal/sa-cascade')).to.be.false;
      expect(backend.objects.get('TrustDomain/td-cascade')).to.deep.equal({});
    });
  });
}
