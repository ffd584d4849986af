// The HTTP/JSON gateway of `syncord serve` (in-process here, on a scratch database), through
// fetch as a browser or a script would use it: login, CRUD with If-Match versions, errors with
// their HTTP status and field violations, JSON fields as plain JSON, Watch as server-sent events
// resumed with Last-Event-ID, and the OpenAPI document.
import { expect } from 'chai';
import { serve, type Server } from '../../synchronizer/serve.js';
import { scratchDb, type ScratchDb } from '../support/db.js';

type Obj = Record<string, unknown>;
const PASSWORD = 'correct horse battery';

describe('api: the HTTP/JSON gateway', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let server: Server;
  let token: string;

  const http = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Obj }> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Obj };
  };

  before(async function () {
    this.timeout(10 * 60_000);
    db = await scratchDb();
    const role = await db.service.create('Role', { name: 'admin' });
    await db.service.create('User', { name: 'root', password: PASSWORD, role_id: role.id });
    server = await serve({
      registry: db.registry,
      steps: [],
      databaseUrl: db.url,
      port: 0,
      api: { host: '127.0.0.1', port: 0 },
      sync: false,
      log: () => undefined,
    });
    token = '';
    const login = await http('POST', '/api/v1/login', { username: 'root', password: PASSWORD });
    expect(login.status).to.equal(200);
    token = login.body.token as string;
  });
  after(async () => {
    await server.stop();
    await db.drop();
  });

  it('creates, reads, lists, patches with If-Match and deletes', async () => {
    expect((await http('GET', '/api/v1/whoami')).body).to.include({ name: 'root', role: 'admin' });
    const made = await http('POST', '/api/v1/Network', { name: 'access', subnet: '10.7.0.0/24' });
    expect(made.status).to.equal(201);
    expect(made.body).to.include({ name: 'access', subnet: '10.7.0.0/24', version: 1 });
    expect(made.body.created_at).to.match(/^\d{4}-\d\d-\d\dT/);
    const id = made.body.id as number;
    expect((await http('GET', `/api/v1/network/${String(id)}`)).body).to.include({ id });
    const list = await http('GET', '/api/v1/Network?name=access');
    expect((list.body.items as Obj[]).map((n) => n.id)).to.deep.equal([id]);
    const stale = await http(
      'PATCH',
      `/api/v1/Network/${String(id)}`,
      { mtu: 1400 },
      { 'if-match': '7' },
    );
    expect(stale.status).to.equal(409);
    expect(stale.body.code).to.equal('ABORTED');
    const patched = await http(
      'PATCH',
      `/api/v1/Network/${String(id)}`,
      { mtu: 1400 },
      { 'if-match': '1' },
    );
    expect(patched.status).to.equal(200);
    expect(patched.body).to.include({ mtu: 1400, version: 2, name: 'access' });
    const cleared = await http('PATCH', `/api/v1/Network/${String(id)}`, { mtu: null });
    expect(cleared.body.mtu).to.equal(undefined);
    expect((await http('DELETE', `/api/v1/Network/${String(id)}`)).status).to.equal(200);
    expect((await http('GET', `/api/v1/Network/${String(id)}`)).status).to.equal(404);
  });

  it('answers errors with their HTTP status, the gRPC code and the fields, and writes nothing', async () => {
    const count = async () =>
      Number((await db.sql.query<{ n: string }>('SELECT count(*) AS n FROM network')).rows[0]!.n);
    const before = await count();
    const bad = await http('POST', '/api/v1/Network', { name: 'bad', subnet: 'ten' });
    expect(bad.status).to.equal(400);
    expect(bad.body.code).to.equal('INVALID_ARGUMENT');
    expect((bad.body.field_violations as Obj[]).map((v) => v.field)).to.include('subnet');
    const ro = await http('POST', '/api/v1/Network', {
      name: 'ro',
      subnet: '10.8.0.0/24',
      backend_code: 1,
    });
    expect(ro.status).to.equal(400);
    const unknown = await http('POST', '/api/v1/Network', {
      name: 'u',
      subnet: '10.9.0.0/24',
      colour: 'red',
    });
    expect(unknown.status).to.equal(400);
    expect(unknown.body.message).to.equal('colour: not a field of Network');
    const wrongType = await http('POST', '/api/v1/Network', {
      name: 'w',
      subnet: '10.9.0.0/24',
      mtu: 'large',
    });
    expect(wrongType.status).to.equal(400);
    expect((wrongType.body.field_violations as Obj[]).map((v) => v.field)).to.include('mtu');
    const notJson = await fetch(`${server.url}/api/v1/Network`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: '{"name": ',
    });
    expect(notJson.status).to.equal(400);
    const anonymous = await fetch(`${server.url}/api/v1/Network`);
    expect(anonymous.status).to.equal(401);
    expect(((await anonymous.json()) as Obj).code).to.equal('UNAUTHENTICATED');
    expect((await http('GET', '/api/v1/Nonsense')).status).to.equal(404);
    expect(await count()).to.equal(before);
  });

  it('carries JSON fields as plain JSON', async () => {
    const svc = await http('POST', '/api/v1/Service', { name: 'svc' });
    const si = await http('POST', '/api/v1/ServiceInstance', {
      name: 'si',
      owner_id: svc.body.id,
      service_specific_attribute: { vlan: 100, tags: ['a', true], nested: { x: null } },
    });
    expect(si.status, JSON.stringify(si.body)).to.equal(201);
    expect(si.body.service_specific_attribute).to.deep.equal({
      vlan: 100,
      tags: ['a', true],
      nested: { x: null },
    });
  });

  it('streams Watch as server-sent events, resumable with Last-Event-ID', async () => {
    const events: Obj[] = [];
    const ids: string[] = [];
    const read = async (headers: Record<string, string>, want: number) => {
      const ctl = new AbortController();
      const res = await fetch(`${server.url}/api/v1/watch?models=Site`, {
        headers: { authorization: `Bearer ${token}`, ...headers },
        signal: ctl.signal,
      });
      expect(res.headers.get('content-type')).to.match(/^text\/event-stream/);
      const reader = res.body!.getReader();
      const got: Obj[] = [];
      let text = '';
      const done = (async () => {
        for (;;) {
          const chunk = (await reader.read()) as { done: boolean; value?: Uint8Array };
          if (chunk.done) return;
          text += Buffer.from(chunk.value ?? new Uint8Array()).toString('utf8');
          let i;
          while ((i = text.indexOf('\n\n')) >= 0) {
            const block = text.slice(0, i);
            text = text.slice(i + 2);
            const id = /^id: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (id && data) {
              ids.push(id);
              got.push(JSON.parse(data) as Obj);
            }
            if (got.length >= want) return;
          }
        }
      })();
      return {
        got,
        finished: async () => {
          await done;
          ctl.abort();
        },
      };
    };
    const first = await read({}, 1);
    await new Promise((r) => setTimeout(r, 300));
    await http('POST', '/api/v1/Site', { name: 'watched-1' });
    await first.finished();
    events.push(...first.got);
    expect(events[0]).to.include({ model: 'Site', op: 'create' });
    expect((events[0]!.object as Obj).name).to.equal('watched-1');
    // Missed while away: resumed from the last id the stream gave.
    await http('POST', '/api/v1/Site', { name: 'watched-2' });
    const again = await read({ 'last-event-id': ids[0]! }, 1);
    await again.finished();
    expect((again.got[0]!.object as Obj).name).to.equal('watched-2');
  });

  it('keeps a quiet watch stream alive with comment lines (a client can tell it from a dead one)', async () => {
    process.env.SYNCORD_SSE_HEARTBEAT_MS = '100';
    let quiet: Server;
    try {
      quiet = await serve({
        registry: db.registry,
        steps: [],
        databaseUrl: db.url,
        port: 0,
        api: { host: '127.0.0.1', port: 0 },
        sync: false,
        log: () => undefined,
      });
    } finally {
      delete process.env.SYNCORD_SSE_HEARTBEAT_MS;
    }
    const ctl = new AbortController();
    try {
      const res = await fetch(`${quiet.url}/api/v1/watch?models=Flavor`, {
        headers: { authorization: `Bearer ${token}` },
        signal: ctl.signal,
      });
      const reader = res.body!.getReader();
      let text = '';
      const deadline = Date.now() + 5000;
      while ((text.match(/^: keepalive$/gm) ?? []).length < 3 && Date.now() < deadline) {
        const chunk = (await reader.read()) as { done: boolean; value?: Uint8Array };
        if (chunk.done) break;
        text += Buffer.from(chunk.value ?? new Uint8Array()).toString('utf8');
      }
      expect(text.match(/^: keepalive$/gm) ?? [], text).to.have.length.of.at.least(3);
      expect(text, 'no events: nothing changed').not.to.match(/^event:/m);
    } finally {
      ctl.abort();
      await quiet.stop();
    }
  });

  it('publishes an OpenAPI document generated from the registry', async () => {
    const doc = await fetch(`${server.url}/api/v1/openapi.json`);
    const api = (await doc.json()) as {
      openapi: string;
      paths: Record<string, Obj>;
      components: {
        schemas: Record<string, { properties: Record<string, Obj>; required?: string[] }>;
      };
    };
    expect(api.openapi).to.match(/^3\./);
    expect(api.paths).to.have.property('/api/v1/Network/{id}');
    const net = api.components.schemas.Network!;
    expect(net.properties.backend_code).to.include({ readOnly: true });
    expect(net.required).to.include('subnet');
    expect(api.components.schemas.Port!.properties.ovn_up).to.include({ readOnly: true });
  });
});
