// Adoption through the engine, with an in-memory backend whose objects were made by someone else
// (no owner mark): candidates become models in one transaction, the engine puts the marks on
// (the step's adopt) before the first sync, and the sync then changes nothing else. Refusals
// (an address IPAM gives another port, an object adopted already, a reference to a candidate
// not adopted with it) leave no model behind. The real backends' adoption has its own tests.
import { expect } from 'chai';
import { Engine, type SyncStep } from '../../synchronizer/engine.js';
import {
  adopt,
  AdoptError,
  discoverAll,
  type AdoptCandidate,
  type AdoptSource,
} from '../../synchronizer/adopt.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';

type Thing = Record<string, unknown> & { owner?: string };

/** Objects by "<Kind>/<name>"; Syncord's are those with an owner. */
class FakeBackend {
  readonly objects = new Map<string, Thing>();
  /** Every write, as "<verb> <key> <json>". */
  readonly writes: string[] = [];

  /** The backend name of a model object: its handle's, else the one the step would give. */
  static nameOf(kind: string, o: ModelObject): string {
    const handle = o.backend_handle as Record<string, string> | null;
    return `${kind}/${handle?.[`fake/${kind}`] ?? (typeof o.name === 'string' ? o.name : String(o.id))}`;
  }

  step(
    kind: string,
    model: string,
    spec: (o: ModelObject) => Promise<Record<string, unknown>>,
  ): SyncStep {
    const owner = (o: ModelObject) => `${model} ${String(o.id)}`;
    const canon = (t: Thing) =>
      JSON.stringify(Object.entries(t).sort(([a], [b]) => (a < b ? -1 : 1)));
    return {
      name: `fake/${model}`,
      observes: model,
      sync: async (o) => {
        const key = FakeBackend.nameOf(kind, o);
        const want: Thing = { ...(await spec(o)), owner: owner(o) };
        const have = this.objects.get(key);
        if (have && canon(have) === canon(want)) return `${key} as it should be`;
        if (have?.owner !== undefined && have.owner !== owner(o)) {
          throw new Error(`${key} belongs to ${have.owner}`);
        }
        this.writes.push(`put ${key} ${canon(want)}`);
        this.objects.set(key, want);
        return `${have ? 'updated' : 'created'} ${key}`;
      },
      observe: (o) => {
        const key = FakeBackend.nameOf(kind, o);
        const have = this.objects.get(key);
        if (!have) return Promise.reject(new Error(`${key} is not there`));
        return Promise.resolve(`${key}: subnet ${String(have.subnet)}`);
      },
      delete: (o) => {
        const key = FakeBackend.nameOf(kind, o);
        this.writes.push(`delete ${key}`);
        this.objects.delete(key);
        return Promise.resolve(`deleted ${key}`);
      },
      adopt: (o) => {
        const key = FakeBackend.nameOf(kind, o);
        const have = this.objects.get(key);
        if (!have) return Promise.reject(new Error(`${key} is not there`));
        if (have.owner === owner(o)) return Promise.resolve(`${key} marked already`);
        this.writes.push(`mark ${key} ${owner(o)}`);
        have.owner = owner(o);
        return Promise.resolve(`marked ${key}`);
      },
    };
  }

  /** Unowned Switches and Ports, as candidates for Networks and Ports. */
  source(): AdoptSource {
    return {
      backend: 'fake',
      discover: () => {
        const out: AdoptCandidate[] = [];
        for (const [key, thing] of this.objects) {
          if (thing.owner !== undefined) continue;
          const [kind, name] = key.split('/') as [string, string];
          if (kind === 'Switch') {
            out.push({
              key: `fake/${key}`,
              backend: 'fake',
              kind,
              name,
              detail: String(thing.subnet),
              model: 'Network',
              values: { name, subnet: thing.subnet },
              handle: { 'fake/Switch': name },
            });
          } else if (kind === 'Lsp') {
            out.push({
              key: `fake/${key}`,
              backend: 'fake',
              kind,
              name,
              detail: `${String(thing.ip)} on ${String(thing.switch)}`,
              model: 'Port',
              values: { name, ip: thing.ip, service_instance_id: thing.si },
              refs: { network_id: `fake/Switch/${String(thing.switch)}` },
              handle: { 'fake/Lsp': name },
            });
          }
        }
        return Promise.resolve(out);
      },
    };
  }
}

describe('synchronizer: adoption', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let svc: ModelService;
  let backend: FakeBackend;
  let engine: Engine;
  let si: ModelObject;

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    svc = db.service;
    backend = new FakeBackend();
    const owner = await svc.create('Service', { name: 'owner' });
    si = await svc.create('ServiceInstance', { name: 'si', owner_id: owner.id });
    engine = new Engine(
      db.registry,
      svc,
      [
        backend.step('Switch', 'Network', (o) => Promise.resolve({ subnet: o.subnet })),
        // Another backend's step with no adopt: nothing of its was adopted, it syncs as usual.
        {
          name: 'other/network',
          observes: 'Network',
          sync: (o) => Promise.resolve(`other made ${String(o.name)}`),
          observe: (o) => Promise.resolve(`other sees ${String(o.name)}`),
          delete: () => Promise.resolve(undefined),
        },
        backend.step('Lsp', 'Port', async (o) => ({
          ip: o.ip,
          si: o.service_instance_id,
          // The switch's backend name, as the switch's step names it.
          switch: FakeBackend.nameOf(
            'Switch',
            await svc.get('Network', o.network_id as number),
          ).slice('Switch/'.length),
        })),
      ],
      { url: db.url, workers: 4, resyncMs: 60 * 60_000, backoff: { baseMs: 200, maxMs: 1000 } },
    );
    await engine.start();
  });
  after(async () => {
    await engine.stop();
    await db.drop();
  });

  const synced = (model: string, id: number) =>
    eventually(`${model} ${String(id)} synced`, async () => {
      const o = await svc.get(model, id);
      return o.backend_code === 1 && o.synced_version === o.version ? o : undefined;
    });
  const count = async (table: string) =>
    Number((await db.sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);

  it('lists what carries no owner mark, adopts it, and the backend changes by the marks only', async () => {
    backend.objects.set('Switch/ls-red', { subnet: '10.70.0.0/24' });
    backend.objects.set('Lsp/red-1', { ip: '10.70.0.5', si: si.id });
    backend.objects.set('Lsp/red-2', { ip: '10.70.0.6', si: si.id });
    for (const k of ['Lsp/red-1', 'Lsp/red-2']) backend.objects.get(k)!.switch = 'ls-red';
    backend.objects.set('Switch/ours', { subnet: '10.71.0.0/24', owner: 'Network 999' });
    const before = JSON.stringify([...backend.objects]);

    const { candidates, failures } = await discoverAll(svc, [backend.source()]);
    expect(failures).to.deep.equal([]);
    expect(candidates.map((c) => `${c.key} -> ${c.model}`).sort()).to.deep.equal([
      'fake/Lsp/red-1 -> Port',
      'fake/Lsp/red-2 -> Port',
      'fake/Switch/ls-red -> Network',
    ]);
    // Listing wrote nothing.
    expect(JSON.stringify([...backend.objects])).to.equal(before);
    expect(backend.writes).to.deep.equal([]);

    // Ports listed before their switch: adopt orders them.
    const adopted = await adopt(svc, candidates.reverse());
    expect(adopted.map((a) => a.model)).to.deep.equal(['Network', 'Port', 'Port']);
    const net = await svc.get('Network', adopted[0]!.id);
    expect(net).to.include({ name: 'ls-red', subnet: '10.70.0.0/24' });
    expect(net.backend_handle).to.deep.equal({ 'fake/Switch': 'ls-red' });
    const idOf = (key: string) => adopted.find((a) => a.key === key)!.id;
    const port = await svc.get('Port', idOf('fake/Lsp/red-1'));
    expect(port).to.include({ name: 'red-1', network_id: net.id, ip: '10.70.0.5' });

    for (const a of adopted) await synced(a.model, a.id);
    const done = await svc.get('Network', net.id);
    expect(done.backend_status).to.equal(
      'adopted: fake: marked Switch/ls-red; fake: Switch/ls-red as it should be; other: other made ls-red',
    );
    // The only writes: the marks.
    expect(backend.writes.sort()).to.deep.equal([
      `mark Lsp/red-1 Port ${String(idOf('fake/Lsp/red-1'))}`,
      `mark Lsp/red-2 Port ${String(idOf('fake/Lsp/red-2'))}`,
      `mark Switch/ls-red Network ${String(net.id)}`,
    ]);
    // Nothing left to adopt; the addresses are in IPAM, as static allocations.
    expect((await discoverAll(svc, [backend.source()])).candidates).to.deep.equal([]);
    const held = await db.sql.query(
      `SELECT host(address) AS address, static FROM syncord_ipam_address WHERE network_id = $1 ORDER BY address`,
      [net.id],
    );
    expect(held.rows).to.deep.equal([
      { address: '10.70.0.5', static: true },
      { address: '10.70.0.6', static: true },
    ]);
  });

  it('refuses an address IPAM gives another port, naming the holder, and adopts nothing', async () => {
    const net = await svc.create('Network', { name: 'blue', subnet: '10.72.0.0/24' });
    const holder = await svc.create('Port', {
      name: 'holder',
      network_id: net.id,
      service_instance_id: si.id,
      ip: '10.72.0.9',
    });
    backend.objects.set('Switch/ls-blue', { subnet: '10.73.0.0/24' });
    backend.objects.set('Lsp/blue-1', { ip: '10.72.0.9', si: si.id, switch: 'ls-blue' });
    const networks = await count('network');
    const ports = await count('port');
    const { candidates } = await discoverAll(svc, [backend.source()]);
    const lsp = candidates.find((c) => c.key === 'fake/Lsp/blue-1')!;
    // Its switch adopted as the existing network "blue" instead: the address is taken there.
    const onBlue: AdoptCandidate = {
      ...lsp,
      refs: {},
      values: { ...lsp.values, network_id: net.id },
    };
    const err = await adopt(svc, [
      candidates.find((c) => c.key === 'fake/Switch/ls-blue')!,
      onBlue,
    ]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(AdoptError);
    expect((err as Error).message).to.equal(
      `fake/Lsp/blue-1: as Port: ip: 10.72.0.9 is held by Port ${String(holder.id)} (holder of ServiceInstance ${String(si.id)}) on Network blue`,
    );
    expect(await count('network')).to.equal(networks);
    expect(await count('port')).to.equal(ports);
    expect(backend.objects.get('Lsp/blue-1')?.owner).to.equal(undefined);
  });

  it('refuses what is adopted already, and a reference to a candidate left out', async () => {
    const { candidates } = await discoverAll(svc, [backend.source()]);
    const sw = candidates.find((c) => c.key === 'fake/Switch/ls-blue')!;
    const lsp = candidates.find((c) => c.key === 'fake/Lsp/blue-1')!;
    const alone = await adopt(svc, [lsp]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((alone as Error).message).to.equal(
      'fake/Lsp/blue-1: network_id refers to fake/Switch/ls-blue, which is not adopted with it (adopt it too, or first)',
    );
    const [made] = await adopt(svc, [sw]);
    const again = await adopt(svc, [sw]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((again as Error).message).to.equal(
      `fake/Switch/ls-blue: adopted already as Network ${String(made!.id)}`,
    );
  });

  it('observe: adopted to be read only, it gets no mark', async () => {
    backend.objects.set('Switch/ls-green', { subnet: '10.74.0.0/24' });
    const { candidates } = await discoverAll(svc, [backend.source()]);
    const green = candidates.filter((c) => c.key === 'fake/Switch/ls-green');
    const [made] = await adopt(svc, green, { management_policy: 'observe' });
    const o = await svc.get('Network', made!.id);
    expect(o).to.include({ management_policy: 'observe' });
    const seen = await eventually('observed', async () => {
      const x = await svc.get('Network', made!.id);
      return x.backend_code !== 0 ? x : undefined;
    });
    expect(seen).to.include({
      backend_code: 1,
      backend_status:
        'observed: fake: Switch/ls-green: subnet 10.74.0.0/24; other: other sees ls-green',
    });
    expect(backend.objects.get('Switch/ls-green')).to.deep.equal({ subnet: '10.74.0.0/24' });
    expect(backend.writes.filter((w) => w.includes('ls-green'))).to.deep.equal([]);
  });
});
