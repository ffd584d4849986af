// Authentication and authorization of the model API, table-driven: every kind of call by every
// kind of caller (admin, operator, viewer, an operator limited to trust domain A, and no token),
// with the status each must get. Trust domain A and B each have a slice and a network; sites are
// shared. Expected codes are written out, not computed from the rules under test.
import { expect } from 'chai';
import { startApiServer, type ApiServer } from '../../api/server.js';
import { callApi, codeOf } from '../support/api-call.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { twoTenants, usersWithRoles } from '../support/tenants.js';

type Obj = Record<string, unknown>;
type Actor = 'admin' | 'operator' | 'viewer' | 'opA' | 'anonymous';
const ACTORS: Actor[] = ['admin', 'operator', 'viewer', 'opA', 'anonymous'];
const PASSWORD = 'correct horse battery';

type Code = 'OK' | 'UNAUTHENTICATED' | 'PERMISSION_DENIED' | 'NOT_FOUND';

const call = callApi;

describe('api: who may do what (every call by every kind of caller)', function () {
  this.timeout(120_000);
  let db: ScratchDb;
  let api: ApiServer;
  const tokens = new Map<Actor, string | undefined>();
  let w: {
    sliceA: number;
    sliceB: number;
    netA: number;
    netB: number;
    site: number;
    tdA: number;
  };

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
    const { site, tdA, sliceA, sliceB, netA, netB } = await twoTenants(svc);
    w = {
      sliceA: sliceA.id,
      sliceB: sliceB.id,
      netA: netA.id,
      netB: netB.id,
      site: site.id,
      tdA: tdA.id,
    };
    const users = [
      ['admin', 'admin', undefined],
      ['operator', 'operator', undefined],
      ['viewer', 'viewer', undefined],
      ['opA', 'operator', tdA.id],
    ] as const;
    await usersWithRoles(svc, users, PASSWORD);
    for (const [actor] of users) {
      const r = await call(api.address, undefined, 'Login', {
        username: actor,
        password: PASSWORD,
      });
      tokens.set(actor, r.token as string);
    }
    tokens.set('anonymous', undefined);
  });
  after(async () => {
    await api.close();
    await db.drop();
  });

  // Each row: a call (made fresh for each actor: names stay unique) and the code per actor.
  const rows: [string, (a: Actor) => [string, Obj], Record<Actor, Code>][] = [
    [
      'WhoAmI',
      () => ['WhoAmI', {}],
      { admin: 'OK', operator: 'OK', viewer: 'OK', opA: 'OK', anonymous: 'UNAUTHENTICATED' },
    ],
    [
      'ListNetwork',
      () => ['ListNetwork', {}],
      { admin: 'OK', operator: 'OK', viewer: 'OK', opA: 'OK', anonymous: 'UNAUTHENTICATED' },
    ],
    [
      'GetNetwork of A',
      () => ['GetNetwork', { id: w.netA }],
      { admin: 'OK', operator: 'OK', viewer: 'OK', opA: 'OK', anonymous: 'UNAUTHENTICATED' },
    ],
    [
      'GetNetwork of B',
      () => ['GetNetwork', { id: w.netB }],
      { admin: 'OK', operator: 'OK', viewer: 'OK', opA: 'NOT_FOUND', anonymous: 'UNAUTHENTICATED' },
    ],
    [
      'CreateNetwork in A',
      (a) => [
        'CreateNetwork',
        {
          name: `new-a-${a}`,
          subnet: `10.3.${String(ACTORS.indexOf(a))}.0/24`,
          owner_id: w.sliceA,
        },
      ],
      {
        admin: 'OK',
        operator: 'OK',
        viewer: 'PERMISSION_DENIED',
        opA: 'OK',
        anonymous: 'UNAUTHENTICATED',
      },
    ],
    [
      'CreateNetwork in B',
      (a) => [
        'CreateNetwork',
        {
          name: `new-b-${a}`,
          subnet: `10.4.${String(ACTORS.indexOf(a))}.0/24`,
          owner_id: w.sliceB,
        },
      ],
      {
        admin: 'OK',
        operator: 'OK',
        viewer: 'PERMISSION_DENIED',
        opA: 'PERMISSION_DENIED',
        anonymous: 'UNAUTHENTICATED',
      },
    ],
    [
      'UpdateNetwork of A',
      () => ['UpdateNetwork', { object: { id: w.netA, mtu: 1400 } }],
      {
        admin: 'OK',
        operator: 'OK',
        viewer: 'PERMISSION_DENIED',
        opA: 'OK',
        anonymous: 'UNAUTHENTICATED',
      },
    ],
    [
      'UpdateNetwork of B',
      () => ['UpdateNetwork', { object: { id: w.netB, mtu: 1400 } }],
      {
        admin: 'OK',
        operator: 'OK',
        viewer: 'PERMISSION_DENIED',
        opA: 'NOT_FOUND',
        anonymous: 'UNAUTHENTICATED',
      },
    ],
    [
      'UpdateNetwork moving A to B',
      () => [
        'UpdateNetwork',
        { object: { id: w.netA, owner_id: w.sliceB }, update_mask: { paths: ['owner_id'] } },
      ],
      {
        admin: 'OK',
        operator: 'OK',
        viewer: 'PERMISSION_DENIED',
        opA: 'PERMISSION_DENIED',
        anonymous: 'UNAUTHENTICATED',
      },
    ],
    [
      'CreateSite (shared)',
      (a) => ['CreateSite', { name: `site-${a}` }],
      {
        admin: 'OK',
        operator: 'OK',
        viewer: 'PERMISSION_DENIED',
        opA: 'PERMISSION_DENIED',
        anonymous: 'UNAUTHENTICATED',
      },
    ],
    [
      'GetSite (shared)',
      () => ['GetSite', { id: w.site }],
      { admin: 'OK', operator: 'OK', viewer: 'OK', opA: 'OK', anonymous: 'UNAUTHENTICATED' },
    ],
    [
      'ListUser',
      () => ['ListUser', {}],
      {
        admin: 'OK',
        operator: 'PERMISSION_DENIED',
        viewer: 'PERMISSION_DENIED',
        opA: 'PERMISSION_DENIED',
        anonymous: 'UNAUTHENTICATED',
      },
    ],
    [
      'CreateUser',
      (a) => ['CreateUser', { name: `u-${a}`, password: PASSWORD }],
      {
        admin: 'OK',
        operator: 'PERMISSION_DENIED',
        viewer: 'PERMISSION_DENIED',
        opA: 'PERMISSION_DENIED',
        anonymous: 'UNAUTHENTICATED',
      },
    ],
    [
      'ListApiToken',
      () => ['ListApiToken', {}],
      {
        admin: 'OK',
        operator: 'PERMISSION_DENIED',
        viewer: 'PERMISSION_DENIED',
        opA: 'PERMISSION_DENIED',
        anonymous: 'UNAUTHENTICATED',
      },
    ],
  ];

  it('gives each caller the status of the table', async () => {
    const got: string[] = [];
    const want: string[] = [];
    for (const [label, make, expected] of rows) {
      for (const actor of ACTORS) {
        // Moving net A to B is tried last per actor and put back, so each actor starts alike.
        const [method, req] = make(actor);
        const code = await codeOf(call(api.address, tokens.get(actor), method, req));
        got.push(`${label} by ${actor}: ${code}`);
        want.push(`${label} by ${actor}: ${expected[actor]}`);
        if (label.startsWith('UpdateNetwork moving') && code === 'OK') {
          await db.service.update('Network', w.netA, { owner_id: w.sliceA });
        }
      }
    }
    expect(got).to.deep.equal(want);
  });

  it('guards every RPC of every model: no token, no call; a viewer never writes', async () => {
    const wrong: string[] = [];
    for (const m of db.registry.models()) {
      const adminOnly = ['User', 'Role', 'ApiToken'].includes(m.name);
      const calls: [string, Obj, Code][] = [
        [`List${m.name}`, {}, adminOnly ? 'PERMISSION_DENIED' : 'OK'],
        [`Get${m.name}`, { id: 999_999 }, adminOnly ? 'PERMISSION_DENIED' : 'NOT_FOUND'],
        [`Create${m.name}`, {}, 'PERMISSION_DENIED'],
        [`Update${m.name}`, { object: { id: 999_999 } }, 'PERMISSION_DENIED'],
        [`Delete${m.name}`, { id: 999_999 }, 'PERMISSION_DENIED'],
      ];
      for (const [method, req, viewer] of calls) {
        const anon = await codeOf(call(api.address, undefined, method, req));
        if (anon !== 'UNAUTHENTICATED') wrong.push(`${method} without a token: ${anon}`);
        const got = await codeOf(call(api.address, tokens.get('viewer'), method, req));
        if (got !== viewer) wrong.push(`${method} by a viewer: ${got}, not ${viewer}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('lists only what a caller limited to a trust domain may see', async () => {
    const seen = async (actor: Actor) =>
      ((await call(api.address, tokens.get(actor), 'ListNetwork', {})).items as Obj[]).map(
        (n) => n.name,
      );
    expect(await seen('opA'))
      .to.include('net-a')
      .and.not.include('net-b');
    expect(await seen('operator'))
      .to.include('net-a')
      .and.include('net-b');
    const me = await call(api.address, tokens.get('opA'), 'WhoAmI', {});
    expect(me).to.include({ name: 'opA', role: 'operator', trust_domain_id: w.tdA });
  });

  it('refuses a wrong password, and a token after Logout', async () => {
    const wrong = await codeOf(
      call(api.address, undefined, 'Login', { username: 'admin', password: 'nope-nope' }),
    );
    expect(wrong).to.equal('UNAUTHENTICATED');
    const r = await call(api.address, undefined, 'Login', {
      username: 'viewer',
      password: PASSWORD,
    });
    const token = r.token as string;
    expect(await codeOf(call(api.address, token, 'WhoAmI', {}))).to.equal('OK');
    await call(api.address, token, 'Logout', {});
    expect(await codeOf(call(api.address, token, 'WhoAmI', {}))).to.equal('UNAUTHENTICATED');
    // Only the token's hash is stored.
    const stored = await db.sql.query<{ token_hash: string }>('SELECT token_hash FROM api_token');
    expect(
      stored.rows.every(
        (t) => /^[0-9a-f]{64}$/.test(t.token_hash) && !token.includes(t.token_hash),
      ),
    ).to.equal(true);
  });
});
