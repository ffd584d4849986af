// The authorization matrix, whole: every RPC of the model API, by every kind of caller, on an
// object of the caller's own trust domain and on one of another (or on a shared object, for
// models that belong to no trust domain). Callers: an admin, an admin limited to trust domain A
// (admins see everything all the same), an operator, an operator of A, a viewer, a viewer of A,
// and no token at all.
//
// Each model's kind of object (admin-only, shared, of a trust domain, or a trust domain itself)
// and the code each caller gets are written out below from the rules as SECURITY.md states
// them, not computed from the code under test. Objects written or deleted by a call are made
// fresh for it (through the model layer, as an admin would), so one call never spoils another.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { startApiServer, type ApiServer } from '../../api/server.js';
import { clientFor, codeOf, collect, type ApiClient, type Obj } from '../support/api-call.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { twoTenants, usersWithRoles } from '../support/tenants.js';

type Actor = 'admin' | 'adminA' | 'operator' | 'opA' | 'viewer' | 'viewerA' | 'anonymous';
const ACTORS: Actor[] = ['admin', 'adminA', 'operator', 'opA', 'viewer', 'viewerA', 'anonymous'];
type Code = 'OK' | 'UNAUTHENTICATED' | 'PERMISSION_DENIED' | 'NOT_FOUND';
type Row = Record<Actor, Code>;
const PASSWORD = 'correct horse battery';

/** What a model's objects are to authorization. */
type Kind = 'admin-only' | 'shared' | 'scoped' | 'trust-domain';

/** Every model, by kind. A model missing here fails the test (new models must be placed). */
const KIND: Record<string, Kind> = {
  User: 'admin-only',
  Role: 'admin-only',
  ApiToken: 'admin-only',
  Site: 'shared',
  Service: 'shared',
  ServiceDependency: 'shared',
  Image: 'shared',
  Flavor: 'shared',
  Cluster: 'shared',
  Node: 'shared',
  ServiceInstance: 'shared', // owned by a service, in no slice
  KubernetesResourceInstance: 'shared', // a ServiceInstance: no slice
  KubernetesService: 'shared',
  OpenStackService: 'shared',
  VSGService: 'shared',
  VNFService: 'shared',
  TrustDomain: 'trust-domain',
  Principal: 'scoped',
  Slice: 'scoped',
  Network: 'scoped',
  NetworkSlice: 'scoped',
  Port: 'scoped',
  KubernetesServiceInstance: 'scoped',
  KubernetesConfigMap: 'scoped',
  KubernetesSecret: 'scoped',
  OpenStackServiceInstance: 'scoped',
  VSGServiceInstance: 'scoped',
  VNFServiceInstance: 'scoped',
};

/** The operations tried on each model; `Own`/`Other`: an object of trust domain A or B. */
type Op =
  | 'List'
  | 'GetOwn'
  | 'GetOther'
  | 'CreateOwn'
  | 'CreateOther'
  | 'UpdateOwn'
  | 'UpdateOther'
  | 'MoveOwnToOther'
  | 'DeleteOwn'
  | 'DeleteOther';

const row = (admin: Code, operator: Code, opA: Code, viewer: Code, viewerA: Code): Row => ({
  admin,
  adminA: admin,
  operator,
  opA,
  viewer,
  viewerA,
  anonymous: 'UNAUTHENTICATED',
});
const OK = 'OK';
const DENIED = 'PERMISSION_DENIED';
const HIDDEN = 'NOT_FOUND';

/**
 * The code per caller for each kind and operation (columns: admin and admin of A, operator,
 * operator of A, viewer, viewer of A; no token is always UNAUTHENTICATED). Shared and admin-only
 * objects have no "other": their Own is the object.
 */
const EXPECTED: Record<Kind, Partial<Record<Op, Row>>> = {
  'admin-only': {
    List: row(OK, DENIED, DENIED, DENIED, DENIED),
    GetOwn: row(OK, DENIED, DENIED, DENIED, DENIED),
    CreateOwn: row(OK, DENIED, DENIED, DENIED, DENIED),
    UpdateOwn: row(OK, DENIED, DENIED, DENIED, DENIED),
    DeleteOwn: row(OK, DENIED, DENIED, DENIED, DENIED),
  },
  shared: {
    List: row(OK, OK, OK, OK, OK),
    GetOwn: row(OK, OK, OK, OK, OK),
    CreateOwn: row(OK, OK, DENIED, DENIED, DENIED),
    UpdateOwn: row(OK, OK, DENIED, DENIED, DENIED),
    DeleteOwn: row(OK, OK, DENIED, DENIED, DENIED),
  },
  scoped: {
    List: row(OK, OK, OK, OK, OK),
    GetOwn: row(OK, OK, OK, OK, OK),
    GetOther: row(OK, OK, HIDDEN, OK, HIDDEN),
    CreateOwn: row(OK, OK, OK, DENIED, DENIED),
    CreateOther: row(OK, OK, DENIED, DENIED, DENIED),
    UpdateOwn: row(OK, OK, OK, DENIED, DENIED),
    UpdateOther: row(OK, OK, HIDDEN, DENIED, DENIED),
    MoveOwnToOther: row(OK, OK, DENIED, DENIED, DENIED),
    DeleteOwn: row(OK, OK, OK, DENIED, DENIED),
    DeleteOther: row(OK, OK, HIDDEN, DENIED, DENIED),
  },
  // A trust domain is the boundary of its users: they see theirs and change none.
  'trust-domain': {
    List: row(OK, OK, OK, OK, OK),
    GetOwn: row(OK, OK, OK, OK, OK),
    GetOther: row(OK, OK, HIDDEN, OK, HIDDEN),
    CreateOwn: row(OK, OK, DENIED, DENIED, DENIED),
    UpdateOwn: row(OK, OK, DENIED, DENIED, DENIED),
    UpdateOther: row(OK, OK, HIDDEN, DENIED, DENIED),
    DeleteOwn: row(OK, OK, DENIED, DENIED, DENIED),
    DeleteOther: row(OK, OK, HIDDEN, DENIED, DENIED),
  },
};

describe('security: the authorization matrix (every RPC × every caller × own and other trust domain)', function () {
  this.timeout(300_000);
  let db: ScratchDb;
  let api: ApiServer;
  const clients = new Map<Actor, ApiClient>();
  /** The fixture's ids. */
  const f: Record<string, number> = {};
  let n = 0;

  type Target = 'A' | 'B' | null;
  const sliceOf = (t: Target) => (t === 'B' ? f.sliceB : f.sliceA)!;
  const tdOf = (t: Target) => (t === 'B' ? f.tdB : f.tdA)!;
  const netOf = (t: Target) => (t === 'B' ? f.netB : f.netA)!;

  /** Values of a new object of each model, in trust domain A or B (ignored when shared). */
  const values: Record<string, (t: Target, k: number) => Promise<Obj> | Obj> = {
    Site: (_t, k) => ({ name: `site-${k}` }),
    Service: (_t, k) => ({ name: `svc-${k}` }),
    ServiceDependency: async (_t, k) => ({
      provider_service_id: (await db.service.create('Service', { name: `provider-${k}` })).id,
      subscriber_service_id: f.service,
    }),
    Image: (_t, k) => ({ name: `img-${k}` }),
    Flavor: (_t, k) => ({ name: `flavor-${k}` }),
    Cluster: (_t, k) => ({ name: `cluster-${k}`, kind: 'kubernetes' }),
    Node: (_t, k) => ({ name: `node-${k}`, site_id: f.site }),
    ServiceInstance: (_t, k) => ({ name: `si-${k}`, owner_id: f.service }),
    KubernetesResourceInstance: (_t, k) => ({
      name: `kri-${k}`,
      owner_id: f.kservice,
      resource_definition: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kri-${k}\n`,
    }),
    KubernetesService: (_t, k) => ({ name: `ksvc-${k}` }),
    OpenStackService: (_t, k) => ({ name: `ossvc-${k}` }),
    VSGService: (_t, k) => ({ name: `vsgsvc-${k}` }),
    VNFService: (_t, k) => ({ name: `vnfsvc-${k}`, vendor: 'acme' }),
    User: (_t, k) => ({ name: `user-${k}`, password: PASSWORD }),
    Role: (_t, k) => ({ name: `role-${k}` }),
    ApiToken: (_t, k) => ({
      name: `token-${k}`,
      user_id: f.plainUser,
      token_hash: randomBytes(32).toString('hex'),
    }),
    TrustDomain: (_t, k) => ({ name: `td-${k}`, owner_id: f.service }),
    Principal: (t, k) => ({ name: `principal-${k}`, trust_domain_id: tdOf(t) }),
    Slice: (t, k) => ({ name: `slice-${k}`, site_id: f.site, trust_domain_id: tdOf(t) }),
    Network: (t, k) => ({
      name: `net-${k}`,
      subnet: `172.${String(16 + (k >> 8))}.${String(k & 255)}.0/24`,
      owner_id: sliceOf(t),
    }),
    // One per network and slice: each gets a network of its own.
    NetworkSlice: async (t, k) => ({
      name: `ns-${k}`,
      network_id: (
        await db.service.create('Network', {
          name: `ns-net-${k}`,
          subnet: `172.${String(16 + (k >> 8))}.${String(k & 255)}.0/24`,
          owner_id: sliceOf(t),
        })
      ).id,
      slice_id: sliceOf(t),
    }),
    Port: (t, k) => ({
      network_id: netOf(t),
      service_instance_id: t === 'B' ? f.ksiB : f.ksiA,
      interface_name: `p${String(k)}`,
    }),
    KubernetesServiceInstance: (t, k) => ({
      name: `ksi-${k}`,
      owner_id: f.kservice,
      slice_id: sliceOf(t),
      image_id: f.image,
    }),
    KubernetesConfigMap: (t, k) => ({ name: `cm-${k}`, trust_domain_id: tdOf(t) }),
    KubernetesSecret: (t, k) => ({ name: `secret-${k}`, trust_domain_id: tdOf(t) }),
    OpenStackServiceInstance: (t, k) => ({
      name: `ossi-${k}`,
      owner_id: f.osservice,
      slice_id: sliceOf(t),
      image_id: f.image,
      flavor_id: f.flavor,
    }),
    VSGServiceInstance: (t, k) => ({
      name: `vsgsi-${k}`,
      owner_id: f.vsgservice,
      s_tag: 100 + (k % 3000),
      c_tag: 1 + Math.floor(k / 3000),
      slice_id: sliceOf(t),
    }),
    VNFServiceInstance: (t, k) => ({
      name: `vnfsi-${k}`,
      owner_id: f.vnfservice,
      slice_id: sliceOf(t),
      image_id: f.image,
    }),
  };

  /** The edit that takes a scoped object of A to B (none for ports: their references are fixed). */
  const moves: Record<string, Obj> = {
    Principal: { trust_domain_id: 0 },
    Slice: { trust_domain_id: 0 },
    KubernetesConfigMap: { trust_domain_id: 0 },
    KubernetesSecret: { trust_domain_id: 0 },
    Network: { owner_id: 0 },
    // Network of A in the slice of B: an object of both trust domains.
    NetworkSlice: { slice_id: 0 },
    KubernetesServiceInstance: { slice_id: 0 },
    OpenStackServiceInstance: { slice_id: 0 },
    VSGServiceInstance: { slice_id: 0 },
    VNFServiceInstance: { slice_id: 0 },
  };
  const moveValues = (model: string): Obj => {
    const [field] = Object.keys(moves[model]!);
    return { [field!]: field === 'trust_domain_id' ? f.tdB : f.sliceB };
  };

  /** A new object made by the model layer (as an admin would), for one call to act on. */
  const fresh = async (model: string, t: Target): Promise<number> =>
    (await db.service.create(model, await values[model]!(t, ++n))).id;

  /** The objects a call acts on for an operation: a fixture or a fresh object. */
  const own = new Map<string, number>();
  const other = new Map<string, number>();

  before(async function () {
    this.timeout(10 * 60_000);
    db = await scratchDb();
    api = await startApiServer({
      listen: '127.0.0.1:0',
      registry: db.registry,
      models: db.service,
      url: db.url,
    });
    const svc = db.service;
    const tt = await twoTenants(svc);
    Object.assign(f, {
      service: tt.owner.id,
      site: tt.site.id,
      tdA: tt.tdA.id,
      tdB: tt.tdB.id,
      sliceA: tt.sliceA.id,
      sliceB: tt.sliceB.id,
      netA: tt.netA.id,
      netB: tt.netB.id,
    });
    f.image = (await svc.create('Image', { name: 'fixture-image' })).id;
    f.flavor = (await svc.create('Flavor', { name: 'fixture-flavor' })).id;
    f.kservice = (await svc.create('KubernetesService', { name: 'fixture-k8s' })).id;
    f.osservice = (await svc.create('OpenStackService', { name: 'fixture-os' })).id;
    f.vsgservice = (await svc.create('VSGService', { name: 'fixture-vsg' })).id;
    f.vnfservice = (await svc.create('VNFService', { name: 'fixture-vnf', vendor: 'acme' })).id;
    f.ksiA = await fresh('KubernetesServiceInstance', 'A');
    f.ksiB = await fresh('KubernetesServiceInstance', 'B');
    f.plainUser = (await svc.create('User', { name: 'plain', password: PASSWORD })).id;
    const users = [
      ['admin', 'admin', undefined],
      ['adminA', 'admin', f.tdA],
      ['operator', 'operator', undefined],
      ['opA', 'operator', f.tdA],
      ['viewer', 'viewer', undefined],
      ['viewerA', 'viewer', f.tdA],
    ] as const;
    await usersWithRoles(svc, users, PASSWORD);
    const anonymous = clientFor(api.address);
    clients.set('anonymous', anonymous);
    for (const [actor] of users) {
      const r = await anonymous.call('Login')({ username: actor, password: PASSWORD });
      clients.set(actor, clientFor(api.address, r.token as string));
    }
    // The objects read: one of A and one of B per model (the fixture's own where it has one).
    for (const m of db.registry.models()) {
      const kind = KIND[m.name];
      if (kind === 'trust-domain') {
        own.set(m.name, f.tdA!);
        other.set(m.name, f.tdB!);
      } else if (kind === 'scoped') {
        own.set(m.name, await fresh(m.name, 'A'));
        other.set(m.name, await fresh(m.name, 'B'));
      } else if (kind) {
        own.set(m.name, await fresh(m.name, null));
      }
    }
  });
  after(async () => {
    for (const c of clients.values()) c.close();
    await api.close();
    await db.drop();
  });

  it('places every model of the registry in the table', () => {
    const models = db.registry.models().map((m) => m.name);
    expect(models.filter((m) => !(m in KIND))).to.deep.equal([]);
    expect(Object.keys(KIND).filter((m) => !models.includes(m))).to.deep.equal([]);
  });

  /**
   * The call of an operation, for an actor: its method and request, made on a fresh object
   * where the call writes. For a trust domain (whose own, for a caller of A, is A itself) the
   * callers that see everything act on fresh ones, so that A and B stay.
   */
  const callOf = async (
    model: string,
    op: Op,
    actor: Actor,
  ): Promise<[string, Obj, (() => Promise<void>) | undefined]> => {
    const kind = KIND[model]!;
    const target: Target = op.endsWith('Other') ? 'B' : kind === 'scoped' ? 'A' : null;
    const scopedActor = actor === 'opA' || actor === 'viewerA';
    const writable = async (): Promise<number> => {
      if (kind === 'trust-domain') {
        // A caller of A tries its own trust domain; if that is let through the test fails.
        if (op.endsWith('Own') && scopedActor) return f.tdA!;
        // Otherwise a new one: to a caller of A, another trust domain.
        return fresh(model, null);
      }
      return fresh(model, target);
    };
    switch (op) {
      case 'List':
        return [`List${model}`, {}, undefined];
      case 'GetOwn':
        return [`Get${model}`, { id: own.get(model) }, undefined];
      case 'GetOther':
        return [`Get${model}`, { id: other.get(model) }, undefined];
      case 'CreateOwn':
      case 'CreateOther':
        return [`Create${model}`, await values[model]!(target, ++n), undefined];
      case 'UpdateOwn':
      case 'UpdateOther': {
        const id = await writable();
        const rename = model === 'Port' ? { interface_name: `q${String(++n)}` } : {};
        return [
          `Update${model}`,
          {
            object: { id, name: `renamed-${String(++n)}`, ...rename },
            update_mask: { paths: ['name', ...Object.keys(rename)] },
          },
          undefined,
        ];
      }
      case 'MoveOwnToOther': {
        const id = await fresh(model, 'A');
        const move = moveValues(model);
        return [
          `Update${model}`,
          { object: { id, ...move }, update_mask: { paths: Object.keys(move) } },
          undefined,
        ];
      }
      case 'DeleteOwn':
      case 'DeleteOther':
        return [`Delete${model}`, { id: await writable() }, undefined];
    }
  };

  it('gives each caller, on every RPC of every model, the code of the table', async () => {
    const got: string[] = [];
    const want: string[] = [];
    let calls = 0;
    for (const m of db.registry.models()) {
      const kind = KIND[m.name];
      if (!kind) continue;
      for (const [op, expected] of Object.entries(EXPECTED[kind]) as [Op, Row][]) {
        if (op === 'MoveOwnToOther' && !(m.name in moves)) continue;
        for (const actor of ACTORS) {
          const [method, req] = await callOf(m.name, op, actor);
          const code = await codeOf(clients.get(actor)!.call(method)(req));
          calls++;
          got.push(`${m.name} ${op} by ${actor}: ${code}`);
          want.push(`${m.name} ${op} by ${actor}: ${expected[actor]}`);
        }
      }
    }
    expect(got).to.deep.equal(want);
    // Every model's List, Get, Create, Update and Delete was called by every caller.
    expect(calls).to.be.greaterThan(db.registry.models().length * 5 * ACTORS.length);
    process.stderr.write(`[authz] ${String(calls)} calls checked\n`);
  });

  it('lists to a caller of A its own objects and the shared ones, never B’s; totals agree', async () => {
    const wrong: string[] = [];
    for (const m of db.registry.models()) {
      const kind = KIND[m.name];
      if (kind !== 'scoped' && kind !== 'trust-domain') continue;
      for (const actor of ['admin', 'adminA', 'operator', 'opA', 'viewer', 'viewerA'] as Actor[]) {
        const scoped = actor === 'opA' || actor === 'viewerA';
        let ids: number[] = [];
        let total: number;
        let pageToken = '';
        do {
          const page = await clients.get(actor)!.call(`List${m.name}`)({
            page_size: 1000,
            ...(pageToken ? { page_token: pageToken } : {}),
          });
          ids = ids.concat(((page.items as Obj[] | undefined) ?? []).map((o) => Number(o.id)));
          total = Number(page.total_size ?? 0);
          pageToken = typeof page.next_page_token === 'string' ? page.next_page_token : '';
        } while (pageToken);
        const sees = (id: number | undefined) => ids.includes(id!);
        if (!sees(own.get(m.name))) wrong.push(`${m.name}: ${actor} does not see A's`);
        if (sees(other.get(m.name)) === scoped) {
          wrong.push(`${m.name}: ${actor} ${scoped ? 'sees' : 'does not see'} B's`);
        }
        if (total !== ids.length)
          wrong.push(`${m.name}: ${actor} total ${total} for ${ids.length}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('answers Login, Logout, WhoAmI and the recipe calls by the table', async () => {
    const recipe = {
      files: [
        {
          name: 'site.yaml',
          content: [
            'tosca_definitions_version: tosca_simple_yaml_1_0',
            'imports: [custom_types/site.yaml]',
            'topology_template:',
            '  node_templates:',
            '    recipe-site:',
            '      type: tosca.nodes.Site',
            '      properties:',
            '        name: recipe-site',
            '',
          ].join('\n'),
        },
      ],
      dry_run: true,
    };
    const table: [string, (a: Actor) => Promise<[string, Obj, ApiClient]>, Row][] = [
      [
        'Login',
        (a) =>
          Promise.resolve([
            'Login',
            { username: a, password: PASSWORD },
            clients.get('anonymous')!,
          ]),
        { ...row(OK, OK, OK, OK, OK), anonymous: 'UNAUTHENTICATED' },
      ],
      ['WhoAmI', (a) => Promise.resolve(['WhoAmI', {}, clients.get(a)!]), row(OK, OK, OK, OK, OK)],
      [
        'ValidateTosca',
        (a) => Promise.resolve(['ValidateTosca', recipe, clients.get(a)!]),
        row(OK, OK, OK, OK, OK),
      ],
      [
        'ApplyTosca (dry run)',
        (a) => Promise.resolve(['ApplyTosca', recipe, clients.get(a)!]),
        row(OK, OK, DENIED, DENIED, DENIED),
      ],
      [
        'DeleteTosca (dry run)',
        (a) => Promise.resolve(['DeleteTosca', recipe, clients.get(a)!]),
        row(OK, OK, DENIED, DENIED, DENIED),
      ],
      // No adopt source in this server: the calls list nothing and adopt nothing, once allowed.
      [
        'ListAdoptable',
        (a) => Promise.resolve(['ListAdoptable', {}, clients.get(a)!]),
        row(OK, OK, DENIED, DENIED, DENIED),
      ],
      [
        'Adopt (nothing to adopt)',
        (a) => Promise.resolve(['Adopt', {}, clients.get(a)!]),
        row(OK, OK, DENIED, DENIED, DENIED),
      ],
      [
        'Logout (of a token of its own)',
        async (a) => {
          if (a === 'anonymous') return ['Logout', {}, clients.get(a)!];
          const r = await clients.get('anonymous')!.call('Login')({
            username: a,
            password: PASSWORD,
          });
          return ['Logout', {}, clientFor(api.address, r.token as string)];
        },
        row(OK, OK, OK, OK, OK),
      ],
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const [label, make, expected] of table) {
      for (const actor of ACTORS) {
        const [method, req, client] = await make(actor);
        const code = await codeOf(client.call(method)(req));
        got.push(`${label} by ${actor}: ${code}`);
        want.push(`${label} by ${actor}: ${expected[actor]}`);
      }
    }
    expect(got).to.deep.equal(want);
    // The dry runs wrote nothing.
    const sites = await db.service.list('Site', {
      filter: [{ field: 'name', value: 'recipe-site' }],
    });
    expect(sites.items).to.have.length(0);
  });

  it('sends a watcher only the changes its caller may read', async () => {
    let marker = -1;
    const watchers = ACTORS.filter((a) => a !== 'anonymous').map((actor) => {
      const stream = clients.get(actor)!.watch({});
      return {
        actor,
        stream,
        events: collect(stream, (ev) => ev.some((e) => e.model === 'Site' && e.id === marker)),
      };
    });
    const anon = await codeOf(collect(clients.get('anonymous')!.watch({}), () => false));
    expect(anon).to.equal('UNAUTHENTICATED');
    await new Promise((r) => setTimeout(r, 500));
    const netA = await fresh('Network', 'A');
    const netB = await fresh('Network', 'B');
    const user = await fresh('User', null);
    // A shared object last: every watcher sees it, and stops there.
    marker = await fresh('Site', null);
    const seen: string[] = [];
    for (const w of watchers) {
      const events = await w.events;
      w.stream.cancel();
      const has = (model: string, id: number) =>
        events.some((e) => e.model === model && e.id === id);
      seen.push(
        `${w.actor}: netA ${String(has('Network', netA))}, netB ${String(has('Network', netB))}, user ${String(has('User', user))}`,
      );
    }
    expect(seen).to.deep.equal([
      'admin: netA true, netB true, user true',
      'adminA: netA true, netB true, user true',
      'operator: netA true, netB true, user false',
      'opA: netA true, netB false, user false',
      'viewer: netA true, netB true, user false',
      'viewerA: netA true, netB false, user false',
    ]);
  });
});
