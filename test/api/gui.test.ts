// What `syncord serve` serves for the operator GUI (web/README.md, "What the gateway serves for
// the page"), through fetch as the page does, on a scratch database: the registry for generated
// forms, list filters with the status badge and total_size (also over gRPC), an object's status
// history, backend objects and dependents, the dashboard's counts, recipe validation with placed
// problems, and the page's own files. Callers: an admin, a viewer, and an operator limited to
// trust domain A, who must not learn of B's objects.
import { expect } from 'chai';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { apiDefinition } from '../../api/server.js';
import type { ModelObject } from '../../models/service.js';
import { kubernetesSteps } from '../../steps/kubernetes/index.js';
import { ownedObjects } from '../../steps/owned.js';
import { vsgPolicy } from '../../steps/vsg/policy.js';
import type { SyncStep } from '../../synchronizer/engine.js';
import { serve, type Server } from '../../synchronizer/serve.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';
import { twoTenants, usersWithRoles } from '../support/tenants.js';

type Obj = Record<string, unknown>;
type Actor = 'admin' | 'viewer' | 'opA';
const PASSWORD = 'correct horse battery';
const INSTANCE = 'guitest';

interface Reply {
  status: number;
  headers: Headers;
  body: Obj;
}

describe('api: what the gateway serves for the GUI', function () {
  this.timeout(120_000);
  let db: ScratchDb;
  let server: Server;
  let web: string;
  const tokens = new Map<Actor, string>();
  let w: {
    tdA: ModelObject;
    tdB: ModelObject;
    sliceA: ModelObject;
    netA: ModelObject;
    netB: ModelObject;
    netFlannel: ModelObject;
    vnf: ModelObject;
    portA: ModelObject;
    portF: ModelObject;
  };

  const api = async (
    actor: Actor | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Reply> => {
    const token = actor ? tokens.get(actor) : undefined;
    const res = await fetch(`${server.url}/api/v1/${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Obj };
  };
  const get = (path: string, actor: Actor = 'admin') => api(actor, 'GET', path);
  const ids = (r: Reply) => (r.body.items as Obj[]).map((o) => o.id as number);

  before(async function () {
    this.timeout(10 * 60_000);
    db = await scratchDb();
    const svc = db.service;
    web = mkdtempSync(join(tmpdir(), 'syncord-web-'));
    mkdirSync(join(web, 'assets'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>Syncord test page</title>');
    writeFileSync(join(web, 'assets', 'app-1a2b3c.js'), 'console.log("syncord");\n');
    writeFileSync(join(web, 'assets', 'app-1a2b3c.css'), 'body { margin: 0 }\n');
    writeFileSync(join(tmpdir(), 'syncord-web-secret.txt'), 'secret outside the build\n');
    symlinkSync(join(tmpdir(), 'syncord-web-secret.txt'), join(web, 'leak.txt'));

    const { owner, tdA, tdB, sliceA, netA, netB } = await twoTenants(svc, {
      ownerModel: 'VNFService',
      siteName: 'co-1',
      netA: { segment_id: 1001 },
    });
    const netFlannel = await svc.create('Network', {
      name: 'net-f',
      subnet: '10.5.0.0/24',
      owner_id: sliceA.id,
      provider: 'flannel',
      type: 'FLAT',
    });
    const image = await svc.create('Image', { name: 'fw', tag: '1.0' });
    const vnf = await svc.create('VNFServiceInstance', {
      name: 'fw-1',
      owner_id: owner.id,
      slice_id: sliceA.id,
      image_id: image.id,
      config: { rules: ['allow all'] },
    });
    const portA = await svc.create('Port', {
      network_id: netA.id,
      service_instance_id: vnf.id,
      interface_name: 'net1',
    });
    const portF = await svc.create('Port', {
      network_id: netFlannel.id,
      service_instance_id: vnf.id,
      interface_name: 'net2',
    });
    w = { tdA, tdB, sliceA, netA, netB, netFlannel, vnf, portA, portF };

    await usersWithRoles(
      svc,
      [
        ['admin', 'admin', undefined],
        ['viewer', 'viewer', undefined],
        ['opA', 'operator', tdA.id],
      ],
      PASSWORD,
    );
    server = await serve({
      registry: db.registry,
      // The Kubernetes steps and the vSG policy, as definitions: nothing synchronizes here.
      steps: kubernetesSteps({ instance: INSTANCE }),
      policies: [vsgPolicy],
      databaseUrl: db.url,
      port: 0,
      api: { host: '127.0.0.1', port: 0 },
      sync: false,
      owned: (models, obj) =>
        ownedObjects(models, obj, {
          backends: new Set(['kubernetes', 'ovn', 'vtn']),
          instance: INSTANCE,
        }),
      webDir: web,
      log: () => undefined,
    });
    for (const actor of ['admin', 'viewer', 'opA'] as const) {
      const login = await api(undefined, 'POST', 'login', { username: actor, password: PASSWORD });
      expect(login.status, JSON.stringify(login.body)).to.equal(200);
      tokens.set(actor, login.body.token as string);
    }
  });
  after(async () => {
    await server.stop();
    await db.drop();
    rmSync(web, { recursive: true, force: true });
    rmSync(join(tmpdir(), 'syncord-web-secret.txt'), { force: true });
  });

  describe('GET models', () => {
    it('describes every model for generated forms: fields by object key and registry name, bookkeeping, steps and policies', async () => {
      const r = await get('models', 'viewer');
      expect(r.status).to.equal(200);
      const models = r.body.models as Obj[];
      const model = (name: string) => models.find((m) => m.name === name)!;
      const field = (m: string, name: string) =>
        (model(m).fields as Obj[]).find((f) => f.name === name)!;
      expect(models.map((m) => m.name)).to.include.members(['Site', 'Port', 'VNFServiceInstance']);

      // Ports have the Kubernetes port step here; Networks no step (no OVN or VTN steps).
      expect(model('Port')).to.include({ synced: true, policed: false, name_required: false });
      expect(model('Network')).to.include({ synced: false });
      expect(model('VSGServiceInstance')).to.include({
        synced: true,
        policed: true,
        parent: 'ServiceInstance',
      });
      expect(model('ServiceInstance').family).to.include.members([
        'VNFServiceInstance',
        'VSGServiceInstance',
      ]);
      expect(model('Port').unique_together).to.deep.equal([['service_instance', 'interface_name']]);

      expect(field('Port', 'network_id')).to.include({
        field: 'network',
        type: 'reference',
        reference: 'Network',
        required: true,
        immutable: true,
        bookkeeping: false,
      });
      expect(field('Port', 'ovn_up')).to.include({ read_only: true, feedback: true });
      expect(field('Network', 'type')).to.include({ type: 'choice', default: 'PRIVATE' });
      expect(field('Network', 'type').choices).to.include('MANAGEMENT_LOCAL');
      expect(field('Network', 'subnet')).to.include({ type: 'cidr', required: true });
      expect(field('Network', 'mtu')).to.include({ type: 'integer', min: 576, max: 9216 });
      expect(field('Image', 'path')).to.include({ type: 'string', max_length: 1024 });
      expect(field('Network', 'backend_code')).to.include({
        type: 'integer',
        bookkeeping: true,
        read_only: true,
      });
      expect(field('Network', 'no_sync')).to.include({ bookkeeping: true, read_only: false });
      expect(field('Site', 'name')).to.include({ required: true, bookkeeping: true });

      const anonymous = await api(undefined, 'GET', 'models');
      expect(anonymous.status).to.equal(401);
    });
  });

  describe('GET {Model} with filters and status', () => {
    let nets: Record<string, ModelObject>;

    before(async () => {
      const svc = db.service;
      const make = async (name: string, mtu: number | undefined, third: number) =>
        svc.create('Network', {
          name,
          subnet: `10.20.${String(third)}.0/24`,
          ...(mtu !== undefined ? { mtu } : {}),
        });
      nets = {
        ok: await make('f-ok', 1400, 1),
        error: await make('f-error', 1500, 2),
        retrying: await make('f-retrying', 9000, 3),
        pending: await make('f-pending', undefined, 4),
        edited: await make('f-edited', 1450, 5),
        deleting: await make('f-deleting', 1500, 6),
      };
      await svc.setStatus('Network', nets.ok!.id, {
        backend_code: 1,
        backend_status: 'switch in place',
        synced_version: 1,
      });
      await svc.setStatus('Network', nets.error!.id, {
        backend_code: 2,
        backend_status: 'error: refused',
        failures: 1,
        next_attempt_at: new Date(Date.now() + 3600_000).toISOString(),
      });
      await svc.setStatus('Network', nets.retrying!.id, {
        backend_code: 0,
        backend_status: 'retrying',
        failures: 3,
        next_attempt_at: new Date(Date.now() + 3600_000).toISOString(),
      });
      // Synced once, then edited: pending again.
      await svc.setStatus('Network', nets.edited!.id, { backend_code: 1, synced_version: 1 });
      await svc.update('Network', nets.edited!.id, { mtu: 1460 });
      await svc.delete('Network', nets.deleting!.id);
    });

    it('filters with __ne, __lt, __le, __gt, __ge, __in, __contains and __isnull, counting every page', async () => {
      const f = (q: string) => get(`Network?name__contains=f-&${q}`);
      expect(ids(await f('mtu__gt=1450'))).to.have.members([
        nets.error!.id,
        nets.retrying!.id,
        nets.edited!.id,
      ]);
      expect(ids(await f('mtu__ge=1500'))).to.have.members([nets.error!.id, nets.retrying!.id]);
      expect(ids(await f('mtu__lt=1450'))).to.have.members([nets.ok!.id]);
      // Comparisons are not bound by the field's range (an mtu is at least 576).
      expect(ids(await f('mtu__gt=100'))).to.have.length(4);
      expect(ids(await f('mtu__le=1460'))).to.have.members([nets.ok!.id, nets.edited!.id]);
      expect(ids(await f('mtu__in=1400,9000'))).to.have.members([nets.ok!.id, nets.retrying!.id]);
      expect(ids(await f('mtu__isnull=true'))).to.deep.equal([nets.pending!.id]);
      expect(ids(await f('mtu__isnull=false'))).to.have.length(4);
      expect(ids(await f('name__ne=f-ok'))).to.have.length(4);
      expect(ids(await get('Network?name__contains=RETRY'))).to.deep.equal([nets.retrying!.id]);

      // Pages of two: every page tells the total, and the pages add up to it.
      const seen: number[] = [];
      let token = '';
      for (let i = 0; i < 5; i++) {
        const page = await f(`page_size=2&order_by=name${token ? `&page_token=${token}` : ''}`);
        expect(page.status).to.equal(200);
        expect(page.body.total_size).to.equal(5);
        seen.push(...ids(page));
        token = page.body.next_page_token as string;
        if (!token) break;
      }
      expect(seen).to.have.length(5);
      expect(new Set(seen).size).to.equal(5);
    });

    it('filters by the status badge, computed in the database; deleted objects only as deleting', async () => {
      const s = async (status: string) => {
        const r = await get(`Network?name__contains=f-&status=${status}`);
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        expect(r.body.total_size).to.equal((r.body.items as Obj[]).length);
        return ids(r);
      };
      expect(await s('ok')).to.deep.equal([nets.ok!.id]);
      expect(await s('error')).to.deep.equal([nets.error!.id]);
      expect(await s('retrying')).to.deep.equal([nets.retrying!.id]);
      expect(await s('pending')).to.have.members([nets.pending!.id, nets.edited!.id]);
      expect(await s('deleting')).to.deep.equal([nets.deleting!.id]);
      // Without a status, deleted objects stay hidden, as before.
      const all = await get('Network?name__contains=f-');
      expect(ids(all)).to.not.include(nets.deleting!.id);
      expect(all.body.total_size).to.equal(5);
    });

    it('gives status and total_size over gRPC too (one code path)', async () => {
      const pkg = grpc.loadPackageDefinition(apiDefinition()) as unknown as {
        syncord: { v1: { ModelService: grpc.ServiceClientConstructor } };
      };
      const client = new pkg.syncord.v1.ModelService(
        server.apiAddress!,
        grpc.credentials.createInsecure(),
      );
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${tokens.get('viewer')!}`);
      try {
        const res = await new Promise<Obj>((resolve, reject) => {
          (
            client.ListNetwork as (
              r: Obj,
              m: grpc.Metadata,
              cb: (e: grpc.ServiceError | null, r?: Obj) => void,
            ) => void
          ).call(
            client,
            {
              filter: [{ field: 'name', op: 'contains', value: { stringValue: 'f-' } }],
              status: 'pending',
              page_size: 1,
            },
            md,
            (e, r) => {
              if (e) reject(e);
              else resolve(r ?? {});
            },
          );
        });
        expect((res.items as Obj[]).length).to.equal(1);
        expect(res.total_size).to.equal(2);
      } finally {
        client.close();
      }
    });

    it('refuses bad filters with 400, naming the query parameter and the reason', async () => {
      const bad = async (q: string, parameter: string, reason: RegExp) => {
        const r = await get(`Network?${q}`);
        expect(r.status, q).to.equal(400);
        expect(r.body.code).to.equal('INVALID_ARGUMENT');
        const v = (r.body.field_violations as { field: string; description: string }[])[0]!;
        expect(v.field, q).to.equal(parameter);
        expect(v.description, q).to.match(reason);
        expect(r.body.message).to.include(parameter);
      };
      await bad('mtu__gt=large', 'mtu__gt', /integer/);
      await bad('colour=red', 'colour', /no field colour/);
      await bad('name__regex=x', 'name__regex', /unknown filter operator "regex"/);
      await bad('mtu__isnull=maybe', 'mtu__isnull', /true or false/);
      await bad('name__contains=a&mtu__in=1500,two', 'mtu__in', /integer/);
      await bad('mtu__contains=1', 'mtu__contains', /text field/);
      await bad('status=sleeping', 'status', /one of pending, ok, error, retrying, deleting/);
      await bad('page_size=many', 'page_size', /positive integer/);
      await bad('order_by=config_json', 'order_by', /cannot be ordered/);
      const badId = await get('Network/abc/history');
      expect(badId.status).to.equal(400);
      expect((badId.body.field_violations as Obj[])[0]).to.include({ field: 'id' });
    });
  });

  describe('GET {Model}/{id}/history', () => {
    it('records creation and every status change, newest first, not edits that leave the status alone', async () => {
      const made = await api('admin', 'POST', 'Site', { name: 'history-site' });
      const id = made.body.id as number;
      const svc = db.service;
      await svc.setStatus('Site', id, { backend_code: 0, backend_status: 'waiting for its turn' });
      await api('admin', 'PATCH', `Site/${String(id)}`, { login_base: 'hs' }); // an edit: no entry
      const retryAt = new Date(Date.now() + 60_000).toISOString();
      await svc.setStatus('Site', id, {
        backend_code: 2,
        backend_status: 'error: the backend refused',
        failures: 1,
        next_attempt_at: retryAt,
      });
      // The same status again (the synchronizer's resync): no entry.
      await svc.setStatus('Site', id, {
        backend_code: 2,
        backend_status: 'error: the backend refused',
      });
      await svc.setStatus('Site', id, {
        backend_code: 1,
        backend_status: 'in place',
        synced_version: 2,
        failures: 0,
        next_attempt_at: null,
      });
      const r = await get(`Site/${String(id)}/history`, 'viewer');
      expect(r.status).to.equal(200);
      const entries = r.body.entries as Obj[];
      expect(entries.map((e) => e.backend_status)).to.deep.equal([
        'in place',
        'error: the backend refused',
        'waiting for its turn',
        '',
      ]);
      expect(entries[0]).to.include({
        backend_code: 1,
        version: 2,
        synced_version: 2,
        failures: 0,
        next_attempt_at: null,
      });
      expect(entries[1]).to.include({ backend_code: 2, failures: 1, version: 2 });
      expect(Date.parse(entries[1]!.next_attempt_at as string)).to.equal(Date.parse(retryAt));
      expect(entries[3]).to.include({ backend_code: 0, version: 1, synced_version: 0 });
      const times = entries.map((e) => Date.parse(e.at as string));
      expect(times.every((t) => Number.isFinite(t))).to.be.true;
      expect([...times].sort((a, b) => b - a)).to.deep.equal(times);
    });

    it('writes one entry per changed row when 500 statuses change in one statement', async () => {
      const rows = await db.service.createMany(
        'Site',
        Array.from({ length: 500 }, (_, i) => ({ name: `bulk-${String(i)}` })),
      );
      await db.service.setStatusMany(
        'Site',
        rows.map((r, i) => ({
          id: r.id,
          // Every other one changes; the rest write what they have.
          status: i % 2 ? { backend_code: 1, backend_status: 'ok' } : { backend_code: 0 },
        })),
      );
      const n = await db.sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM syncord_status_history
          WHERE model_table = 'site' AND object_id = ANY($1::int[])`,
        [rows.map((r) => r.id)],
      );
      expect(n.rows[0]!.n).to.equal(500 + 250);
      const one = await get(`Site/${String(rows[1]!.id)}/history`);
      expect((one.body.entries as Obj[]).map((e) => e.backend_code)).to.deep.equal([1, 0]);
    });

    it("is NOT_FOUND for another trust domain's object, and gone once the object is reaped", async () => {
      expect((await get(`Network/${String(w.netB.id)}/history`, 'opA')).status).to.equal(404);
      expect((await get(`Network/${String(w.netA.id)}/history`, 'opA')).status).to.equal(200);
      expect((await get(`Network/999999/history`)).status).to.equal(404);
      expect((await get(`Nonsense/1/history`)).status).to.equal(404);
      const site = await db.service.create('Site', { name: 'reaped-site' });
      await db.service.setStatus('Site', site.id, { backend_status: 'tearing down' });
      await db.service.delete('Site', site.id);
      await db.service.reap('Site', site.id);
      const left = await db.sql.query(
        `SELECT 1 FROM syncord_status_history WHERE model_table = 'site' AND object_id = $1`,
        [site.id],
      );
      expect(left.rowCount).to.equal(0);
    });
  });

  describe('GET {Model}/{id}/backend', () => {
    const backend = async (model: string, id: number, actor: Actor = 'admin') => {
      const r = await get(`${model}/${String(id)}/backend`, actor);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      return (r.body.objects as Obj[]).map((o) =>
        [o.backend, o.kind, o.name, o.namespace ?? '', o.cluster ?? ''].join(' '),
      );
    };

    it("lists an instance's pod, its networks' NADs and its ConfigMap, as the Kubernetes steps name them", async () => {
      expect(await backend('VNFServiceInstance', w.vnf.id, 'viewer')).to.deep.equal([
        'kubernetes Pod fw-1 td-a the default cluster',
        'kubernetes NetworkAttachmentDefinition net-a td-a the default cluster',
        'kubernetes NetworkAttachmentDefinition net-f td-a the default cluster',
        'kubernetes ConfigMap fw-1-config td-a the default cluster',
      ]);
      // Read as a ServiceInstance: the same object, the same backend objects.
      expect(await backend('ServiceInstance', w.vnf.id)).to.have.length(4);
      expect(await backend('TrustDomain', w.tdA.id)).to.deep.equal([
        'kubernetes Namespace td-a  the default cluster',
      ]);
    });

    it("lists a network's switch, DHCP, router port and VTN network, and a port's logical switch port and VTN port", async () => {
      const net = w.netA.id;
      expect(await backend('Network', net)).to.deep.equal([
        'ovn Logical_Switch syncord-net-a  ',
        'ovn DHCP_Options 10.1.0.0/24  ',
        `ovn Logical_Router_Port syncord-${INSTANCE}-rtos-${String(net)}  `,
        `ovn Logical_Switch_Port syncord-${INSTANCE}-stor-${String(net)}  `,
        'kubernetes NetworkAttachmentDefinition net-a td-a the default cluster',
        `vtn VtnNetwork syncord-${INSTANCE}-net-${String(net)}  `,
      ]);
      expect(await backend('Port', w.portA.id)).to.deep.equal([
        `ovn Logical_Switch_Port syncord-${INSTANCE}-port-${String(w.portA.id)}  `,
        `vtn VtnPort syncord-${INSTANCE}-port-${String(w.portA.id)}  `,
      ]);
      // A flannel network without a segment id: no OVN, no VTN.
      expect(await backend('Port', w.portF.id)).to.deep.equal([]);
      expect(await backend('Site', w.sliceA.site_id as number)).to.deep.equal([]);
    });

    it("is NOT_FOUND for another trust domain's object", async () => {
      expect((await get(`Network/${String(w.netB.id)}/backend`, 'opA')).status).to.equal(404);
      expect((await get(`TrustDomain/${String(w.tdB.id)}/backend`, 'opA')).status).to.equal(404);
    });
  });

  describe('GET {Model}/{id}/dependents', () => {
    const deps = async (model: string, id: number, actor: Actor = 'admin') => {
      const r = await get(`${model}/${String(id)}/dependents`, actor);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      return (r.body.dependents as Obj[]).map(
        (d) => `${String(d.model)}.${String(d.field)} ${String(d.name)}`,
      );
    };

    it('lists the objects that refer to it, by field, only those the caller may read', async () => {
      expect(await deps('Slice', w.sliceA.id)).to.have.members([
        'Network.owner net-a',
        'Network.owner net-f',
        'VNFServiceInstance.slice fw-1',
      ]);
      expect(await deps('Network', w.netA.id)).to.deep.equal([`Port.network null`]);
      // Users refer to trust domains: admins see them, viewers may not read users.
      expect(await deps('TrustDomain', w.tdA.id)).to.have.members([
        'Slice.trust_domain a',
        'User.trust_domain opA',
      ]);
      expect(await deps('TrustDomain', w.tdA.id, 'viewer')).to.deep.equal(['Slice.trust_domain a']);
      // The shared service: the limited operator sees only its own trust domain's dependents.
      const service = w.tdA.owner_id as number;
      expect(await deps('Service', service, 'opA')).to.have.members([
        'TrustDomain.owner td-a',
        'VNFServiceInstance.owner fw-1',
      ]);
      expect(await deps('Service', service)).to.include('TrustDomain.owner td-b');
      expect((await get(`Slice/${String(w.sliceA.id)}/dependents`, 'opA')).status).to.equal(200);
      expect((await get(`TrustDomain/${String(w.tdB.id)}/dependents`, 'opA')).status).to.equal(404);
    });
  });

  describe('GET stats', () => {
    it('counts objects by status per model, as the list filters do, and only what the caller may see', async () => {
      const r = await get('stats', 'viewer');
      expect(r.status).to.equal(200);
      const models = r.body.models as Record<string, Record<string, number>>;
      const network = models.Network!;
      for (const s of ['pending', 'ok', 'error', 'retrying', 'deleting']) {
        const listed = await get(`Network?status=${s}&page_size=1`);
        expect(network[s], s).to.equal(listed.body.total_size);
      }
      expect(network.total).to.equal(
        network.pending! + network.ok! + network.error! + network.retrying! + network.deleting!,
      );
      // A model counts the models that extend it.
      expect(models.ServiceInstance!.total).to.equal(1);
      expect(models.VNFServiceInstance!.total).to.equal(1);
      // Viewers may not read users; admins may.
      expect(models).to.not.have.property('User');
      expect(((await get('stats')).body.models as Obj).User).to.include({ total: 3 });
      expect(r.body.synchronizer).to.include({ leader: false, queue_depth: 0 });

      // The operator of A: B's network is not counted; shared objects are.
      const a = (await get('stats', 'opA')).body.models as Record<string, Record<string, number>>;
      const visible = await get('Network?page_size=100', 'opA');
      expect(a.Network!.total! - a.Network!.deleting!).to.equal(visible.body.total_size);
      expect(ids(visible)).to.include(w.netA.id).and.not.include(w.netB.id);
      expect(a.Network!.total).to.be.below(network.total!);
      expect(a.Site!.total).to.equal(models.Site!.total);
    });
  });

  describe('POST tosca/validate, and problems in tosca errors', () => {
    const recipe = (props: string) => `tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  node_templates:
    site#tosca:
      type: tosca.nodes.Site
      properties:
${props}
`;

    it('reports every problem placed in the recipe, writing nothing, for any caller', async () => {
      const sites = async () =>
        (await db.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM site')).rows[0]!.n;
      const before = await sites();
      const ok = await api('viewer', 'POST', 'tosca/validate', {
        files: [{ name: 'good.yaml', content: recipe('        login_base: tosca') }],
      });
      expect(ok.status).to.equal(200);
      expect(ok.body.problems).to.deep.equal([]);
      const bad = await api('viewer', 'POST', 'tosca/validate', {
        files: [
          { name: 'bad.yaml', content: recipe('        colour: red\n        longitude: east') },
        ],
      });
      expect(bad.status).to.equal(200);
      const problems = bad.body.problems as Obj[];
      expect(problems).to.have.length(2);
      expect(problems[0]).to.deep.include({
        file: 'bad.yaml',
        line: 7,
        col: 9,
        template: 'site#tosca',
        field: 'colour',
      });
      expect(problems[0]!.reason).to.match(/unknown property/);
      expect(problems[1]).to.include({ field: 'longitude', line: 8 });
      expect(await sites()).to.equal(before);
      const none = await api('viewer', 'POST', 'tosca/validate', { files: [] });
      expect(none.status).to.equal(400);
      expect((await api(undefined, 'POST', 'tosca/validate', { files: [] })).status).to.equal(401);
    });

    it('carries the problems in apply and delete errors, besides the field violations', async () => {
      for (const verb of ['apply', 'delete']) {
        const r = await api('admin', 'POST', `tosca/${verb}`, {
          files: [{ name: 'bad.yaml', content: recipe('        colour: red') }],
        });
        expect(r.status, verb).to.equal(400);
        expect(r.body.code).to.equal('INVALID_ARGUMENT');
        expect(r.body.problems).to.deep.equal([
          {
            file: 'bad.yaml',
            line: 7,
            col: 9,
            template: 'site#tosca',
            field: 'colour',
            reason: (r.body.problems as Obj[])[0]!.reason,
          },
        ]);
        expect(String((r.body.problems as Obj[])[0]!.reason)).to.match(/Site has no field colour/);
        expect((r.body.field_violations as Obj[])[0]!.field).to.equal(
          'bad.yaml:7:9 site#tosca.colour',
        );
      }
      // Other errors carry no problems.
      const denied = await api('viewer', 'POST', 'tosca/apply', {
        files: [{ name: 'good.yaml', content: recipe('        login_base: x') }],
      });
      expect(denied.status).to.equal(403);
      expect(denied.body).to.not.have.property('problems');
    });
  });

  describe('the page (web/dist)', () => {
    const raw = (method: string, path: string, headers: http.OutgoingHttpHeaders = {}) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
        (resolve, reject) => {
          const url = new URL(server.url);
          // http.request sends the path as given: no normalising of "..".
          const req = http.request(
            { host: url.hostname, port: url.port, method, path, headers },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (body += c));
              res.on('end', () => {
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
              });
            },
          );
          req.on('error', reject);
          req.end();
        },
      );

    it('serves the build: index.html for the routes, assets cached for good, HEAD too', async () => {
      for (const path of ['/', '/index.html', '/models/Network/3', '/graph?x=1']) {
        const r = await raw('GET', path);
        expect(r.status, path).to.equal(200);
        expect(r.headers['content-type'], path).to.equal('text/html; charset=utf-8');
        expect(r.headers['cache-control'], path).to.equal('no-cache');
        expect(r.body, path).to.include('Syncord test page');
      }
      const js = await raw('GET', '/assets/app-1a2b3c.js');
      expect(js.status).to.equal(200);
      expect(js.headers['content-type']).to.equal('text/javascript; charset=utf-8');
      expect(js.headers['cache-control']).to.equal('public, max-age=31536000, immutable');
      expect(js.body).to.equal('console.log("syncord");\n');
      const css = await raw('GET', '/assets/app-1a2b3c.css');
      expect(css.headers['content-type']).to.equal('text/css; charset=utf-8');
      const head = await raw('HEAD', '/assets/app-1a2b3c.js');
      expect(head.status).to.equal(200);
      expect(head.headers['content-length']).to.equal(String(js.body.length));
      expect(head.body).to.equal('');
      const again = await raw('GET', '/assets/app-1a2b3c.js', { 'if-none-match': js.headers.etag });
      expect(again.status).to.equal(304);
      expect((await raw('GET', '/assets/missing.js')).status).to.equal(404);
      expect((await raw('POST', '/')).status).to.equal(405);
      // The API and the health endpoints stay theirs.
      expect((await raw('GET', '/healthz')).body).to.equal('ok\n');
      const notApi = await raw('GET', '/api/v1/nowhere/1/2/3');
      expect(notApi.headers['content-type']).to.match(/^application\/json/);
    });

    it('never serves a file outside the build', async () => {
      for (const path of [
        '/../../../../etc/passwd',
        '/assets/../../package.json',
        '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
        '/..%2f..%2f..%2fetc%2fpasswd',
        '/assets/..%5c..%5cpackage.json',
        '/%2e%2e%2fsyncord-web-secret.txt',
      ]) {
        const r = await raw('GET', path);
        expect(r.status, path).to.equal(403);
        expect(r.body, path).to.not.match(/root:|secret|"name"/);
      }
      // A link inside the build that leads out of it is not followed: the page is sent instead.
      const link = await raw('GET', '/leak.txt');
      expect(link.body).to.not.include('secret');
      expect(link.body).to.include('Syncord test page');
    });
  });
});

describe('api: the GUI routes of a synchronizing server', function () {
  this.timeout(120_000);
  let db: ScratchDb;
  let server: Server;
  let token: string;

  // A step in this process: sites named bad-* fail, the others sync.
  const siteStep: SyncStep = {
    name: 'test/site',
    observes: 'Site',
    sync: (site) =>
      String(site.name).startsWith('bad-')
        ? Promise.reject(new Error('the site is refused'))
        : Promise.resolve('site in place'),
    delete: () => Promise.resolve('site gone'),
  };

  before(async function () {
    this.timeout(10 * 60_000);
    db = await scratchDb();
    const role = await db.service.create('Role', { name: 'viewer' });
    await db.service.create('User', { name: 'watcher', password: PASSWORD, role_id: role.id });
    server = await serve({
      registry: db.registry,
      steps: [siteStep],
      databaseUrl: db.url,
      port: 0,
      api: { host: '127.0.0.1', port: 0 },
      resyncMs: 3600_000,
      webDir: join(tmpdir(), 'syncord-no-such-build'),
      log: () => undefined,
    });
    const login = await fetch(`${server.url}/api/v1/login`, {
      method: 'POST',
      body: JSON.stringify({ username: 'watcher', password: PASSWORD }),
    });
    token = ((await login.json()) as Obj).token as string;
  });
  after(async () => {
    await server.stop();
    await db.drop();
  });

  const get = async (path: string) => {
    const res = await fetch(`${server.url}/api/v1/${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return (await res.json()) as Obj;
  };

  it("reports the synchronizer's figures and the counts as the synchronizer works", async () => {
    await db.service.create('Site', { name: 'good-1' });
    await db.service.create('Site', { name: 'good-2' });
    const bad = await db.service.create('Site', { name: 'bad-1' });
    const s = await eventually('the sites synchronized', async () => {
      const r = await get('stats');
      const sites = (r.models as Record<string, Record<string, number>>).Site!;
      // The engine counts a reconcile once its status is written: both may take a moment.
      const counted = (r.synchronizer as { reconciles: { error: number } }).reconciles.error;
      return sites.ok === 2 && sites.error === 1 && counted >= 1 ? r : undefined;
    });
    const sync = s.synchronizer as { leader: boolean; reconciles: Obj; uptime_s: number };
    expect(sync.leader).to.equal(true);
    expect(sync.reconciles.ok).to.be.at.least(2);
    expect(sync.reconciles.error).to.be.at.least(1);
    expect(sync.uptime_s).to.be.a('number').and.at.least(0);
    const site = ((await get('models')).models as Obj[]).find((m) => m.name === 'Site')!;
    expect(site.synced).to.equal(true);

    // The failure and its retry are in the bad site's history, written by the engine.
    const history = (await get(`Site/${String(bad.id)}/history`)).entries as Obj[];
    expect(history[0]!.backend_code).to.equal(2);
    expect(history[0]!.failures).to.be.at.least(1);
    expect(history[0]!.backend_status).to.match(/the site is refused/);
    expect(history.at(-1)).to.include({ backend_code: 0, version: 1 });
  });

  it('answers 503 saying how to build the page when there is no build', async () => {
    for (const path of ['/', '/models/Site']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).to.equal(503);
      expect(await res.text()).to.equal('the GUI is not built: run npm run build:web\n');
    }
    expect((await fetch(`${server.url}/healthz`)).status).to.equal(200);
  });
});
