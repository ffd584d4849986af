// The model API over gRPC against a scratch database: each RPC through @grpc/grpc-js (built from
// the generated proto, as a client would) and through grpcurl (reflection only, no proto files);
// bad input gets the right status code with the field named in google.rpc.BadRequest, and leaves
// the database as it was. The generated proto must match the registry.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  API_PROTO_FILE,
  FIELD_NUMBERS_FILE,
  readFieldNumbers,
  renderProto,
  updateFieldNumbers,
} from '../../api/protogen.js';
import { fieldViolations, startApiServer, type ApiServer } from '../../api/server.js';
import { defaultRegistry } from '../../models/index.js';
import { readEnv } from '../../rig/control.js';
import { loadConfig } from '../../rig/config.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { clientFor, collect } from '../support/api-call.js';

const exec = promisify(execFile);

type Obj = Record<string, unknown>;
async function refused(p: Promise<unknown>): Promise<grpc.ServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have been refused').to.be.an('error');
  return err as grpc.ServiceError;
}

const PASSWORD = 'correct horse battery';

/** A user with a role (made as needed), limited to a trust domain when given. */
async function makeUser(
  db: ScratchDb,
  name: string,
  role: string,
  trustDomainId?: number,
): Promise<{ id: number; name: string }> {
  const roles = await db.service.list('Role', { filter: [{ field: 'name', value: role }] });
  const r = roles.items[0] ?? (await db.service.create('Role', { name: role }));
  const u = await db.service.create('User', {
    name,
    password: PASSWORD,
    role_id: r.id,
    ...(trustDomainId ? { trust_domain_id: trustDomainId } : {}),
  });
  return { id: u.id, name };
}

/** A scratch database, the API server on it, and a client logged in as an admin. */
async function startAsAdmin(): Promise<{
  db: ScratchDb;
  api: ApiServer;
  client: ReturnType<typeof clientFor>;
}> {
  const db = await scratchDb();
  const api = await startApiServer({
    listen: '127.0.0.1:0',
    registry: db.registry,
    models: db.service,
    url: db.url,
  });
  const admin = await makeUser(db, 'root', 'admin');
  const login = await clientFor(api.address).call('Login')({
    username: admin.name,
    password: PASSWORD,
  });
  return { db, api, client: clientFor(api.address, login.token as string) };
}

describe('api: the gRPC model service', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let api: ApiServer;
  let client: ReturnType<typeof clientFor>;

  before(async function () {
    this.timeout(10 * 60_000);
    ({ db, api, client } = await startAsAdmin());
  });
  after(async () => {
    client.close();
    await api.close();
    await db.drop();
  });

  const count = async (table: string) =>
    Number((await db.sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);

  it('creates, gets, lists, updates and deletes, with versions and timestamps', async () => {
    const made = await client.call('CreateSite')({ name: 'co1', login_base: 'co1' });
    expect(made).to.include({ name: 'co1', leaf_model: 'Site', version: 1, backend_code: 0 });
    expect(made.id).to.be.a('number');
    expect((made.created_at as { seconds: number }).seconds).to.be.closeTo(Date.now() / 1000, 60);
    const got = await client.call('GetSite')({ id: made.id });
    expect(got).to.deep.include({ name: 'co1', version: 1 });
    await client.call('CreateSite')({ name: 'co2' });
    const list = await client.call('ListSite')({
      filter: [{ field: 'name', op: 'eq', value: { stringValue: 'co2' } }],
    });
    expect((list.items as Obj[]).map((s) => s.name)).to.deep.equal(['co2']);
    expect(list.next_page_token).to.equal('');
    const updated = await client.call('UpdateSite')({
      object: { id: made.id, login_base: 'co1-b' },
      expected_version: 1,
    });
    expect(updated).to.include({ login_base: 'co1-b', version: 2, name: 'co1' });
    const stale = await refused(
      client.call('UpdateSite')({ object: { id: made.id, login_base: 'x' }, expected_version: 1 }),
    );
    expect(stale.code).to.equal(grpc.status.ABORTED);
    expect(stale.details).to.match(/is at version 2, not 1/);
    // A field mask clears a field it names and leaves the rest.
    const cleared = await client.call('UpdateSite')({
      object: { id: made.id },
      update_mask: { paths: ['login_base'] },
    });
    expect(cleared.login_base).to.equal(undefined);
    expect(cleared.name).to.equal('co1');
    const del = await client.call('DeleteSite')({ id: made.id });
    expect(del).to.include({ id: made.id });
    const gone = await refused(client.call('GetSite')({ id: made.id }));
    expect(gone.code).to.equal(grpc.status.NOT_FOUND);
  });

  it('carries references as ids and JSON fields as google.protobuf.Value', async () => {
    const service = await client.call('CreateService')({ name: 'svc' });
    const si = await client.call('CreateServiceInstance')({
      name: 'si',
      owner_id: service.id,
      service_specific_attribute: {
        structValue: {
          fields: {
            vlan: { numberValue: 100 },
            tags: { listValue: { values: [{ stringValue: 'a' }, { boolValue: true }] } },
          },
        },
      },
    });
    expect(si.owner_id).to.equal(service.id);
    const row = await db.service.get('ServiceInstance', si.id as number);
    expect(row.service_specific_attribute).to.deep.equal({ vlan: 100, tags: ['a', true] });
  });

  it('refuses bad input with the field named, and writes nothing', async () => {
    const before = await count('network');
    const bad = await refused(client.call('CreateNetwork')({ name: 'n', subnet: '10.0.0.0/33' }));
    expect(bad.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(fieldViolations(bad).map((v) => v.field)).to.include('subnet');
    const ro = await refused(
      client.call('CreateNetwork')({ name: 'n', subnet: '10.0.0.0/24', backend_code: 1 }),
    );
    expect(ro.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(fieldViolations(ro)).to.deep.include({
      field: 'backend_code',
      description: 'is read-only (the synchronizer writes it)',
    });
    const missing = await refused(client.call('CreateNetwork')({ name: 'n' }));
    expect(fieldViolations(missing).map((v) => v.field)).to.include('subnet');
    expect(await count('network')).to.equal(before);
    await client.call('CreateNetwork')({ name: 'dup', subnet: '10.1.0.0/24' });
    const dup = await refused(client.call('CreateNetwork')({ name: 'dup', subnet: '10.2.0.0/24' }));
    expect(dup.code).to.equal(grpc.status.ALREADY_EXISTS);
    expect(fieldViolations(dup)[0]?.field).to.equal('name');
    const feedback = await refused(
      client.call('UpdateKubernetesServiceInstance')({ object: { id: 1, pod_phase: 'Running' } }),
    );
    expect(feedback.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(fieldViolations(feedback)[0]).to.include({ field: 'pod_phase' });
  });

  it('watches changes with their objects, and a resumed watch gets exactly what it missed', async () => {
    const stream = client.watch({ models: ['Site'] });
    await new Promise((r) => setTimeout(r, 300)); // the watch is listening
    const a = await client.call('CreateSite')({ name: 'w-a' });
    await client.call('UpdateSite')({ object: { id: a.id, login_base: 'wa' } });
    const first = await collect(stream, (e) => e.length >= 2);
    stream.cancel();
    expect(first.map((e) => `${e.op} ${String(e.id)} v${String(e.version)}`)).to.deep.equal([
      `create ${String(a.id)} v1`,
      `update ${String(a.id)} v2`,
    ]);
    // The object comes packed as its own message.
    expect(first[1]!.object?.type_url).to.equal('type.googleapis.com/syncord.v1.Site');
    const { Root } = (await import('protobufjs')).default;
    const Site = new Root()
      .loadSync(API_PROTO_FILE, { keepCase: true })
      .lookupType('syncord.v1.Site');
    expect(Site.toObject(Site.decode(first[1]!.object!.value))).to.include({
      name: 'w-a',
      login_base: 'wa',
    });
    // Missed while disconnected: two changes of Sites, one of a Network (not watched).
    const b = await client.call('CreateSite')({ name: 'w-b' });
    await client.call('CreateNetwork')({ name: 'w-net', subnet: '10.9.0.0/24' });
    await client.call('DeleteSite')({ id: a.id });
    const resumed = client.watch({ models: ['Site'], from_cursor: first[1]!.cursor });
    const missed = await collect(resumed, (e) => e.length >= 2);
    await new Promise((r) => setTimeout(r, 300)); // nothing more comes
    resumed.cancel();
    expect(missed.map((e) => `${e.op} ${String(e.id)}`)).to.deep.equal([
      `create ${String(b.id)}`,
      `delete ${String(a.id)}`,
    ]);
    const badCursor = await new Promise<grpc.ServiceError>((resolve) => {
      const s = client.watch({ from_cursor: 'yesterday' });
      s.on('data', () => undefined);
      s.on('error', resolve);
    });
    expect(badCursor.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(badCursor.details).to.match(/cursor: "yesterday" is not a cursor/);
  });

  it('applies and deletes TOSCA recipes, with every problem placed in the recipe', async () => {
    const file = 'examples/tosca/vnf-three-interfaces.yaml';
    const content = readFileSync(file, 'utf8');
    const first = await client.call('ApplyTosca')({ files: [{ name: file, content }] });
    const outcomes = first.outcomes as { action: string; model: string }[];
    expect(outcomes).to.have.length(12);
    expect(
      outcomes.every((o) => o.action === 'created'),
      JSON.stringify(outcomes),
    ).to.equal(true);
    const again = await client.call('ApplyTosca')({ files: [{ name: file, content }] });
    expect(
      (again.outcomes as { action: string }[]).every((o) => o.action === 'unchanged'),
    ).to.equal(true);
    const broken = await refused(
      client.call('ApplyTosca')({
        files: [
          {
            name: 'bad.yaml',
            content:
              'tosca_definitions_version: tosca_simple_yaml_1_0\ntopology_template:\n  node_templates:\n    site#x:\n      type: tosca.nodes.Site\n      properties:\n        colour: red\n',
          },
        ],
      }),
    );
    expect(broken.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(fieldViolations(broken)).to.deep.include({
      field: 'bad.yaml:7:9 site#x.colour',
      description: 'unknown property: Site has no field colour',
    });
    const gone = await client.call('DeleteTosca')({ files: [{ name: file, content }] });
    expect((gone.outcomes as { action: string }[]).every((o) => o.action === 'deleted')).to.equal(
      true,
    );
  });

  it('answers grpcurl through reflection, with health', async function () {
    const grpcurl = process.env.SYNCORD_GRPCURL ?? readEnv(loadConfig())?.SYNCORD_GRPCURL;
    if (!grpcurl) {
      process.stderr.write('[test] no grpcurl: run rig/rig up, which builds it\n');
      this.skip();
    }
    const login = await client.call('Login')({ username: 'root', password: PASSWORD });
    const auth = ['-H', `authorization: Bearer ${String(login.token)}`];
    const run = async (...args: string[]) =>
      (await exec(grpcurl, ['-plaintext', ...auth, ...args])).stdout;
    const services = await run(api.address, 'list');
    expect(services).to.include('syncord.v1.ModelService').and.include('grpc.health.v1.Health');
    const made = JSON.parse(
      await run('-d', '{"name":"from-grpcurl"}', api.address, 'syncord.v1.ModelService/CreateSite'),
    ) as { id: number; name: string; version: number };
    expect(made).to.include({ name: 'from-grpcurl', version: 1 });
    const listed = JSON.parse(
      await run(
        '-d',
        '{"filter":[{"field":"name","value":"from-grpcurl"}]}',
        api.address,
        'syncord.v1.ModelService/ListSite',
      ),
    ) as { items: { id: number }[] };
    expect(listed.items.map((s) => s.id)).to.deep.equal([made.id]);
    const updated = JSON.parse(
      await run(
        '-d',
        JSON.stringify({ object: { id: made.id, login_base: 'gc' }, expected_version: 1 }),
        api.address,
        'syncord.v1.ModelService/UpdateSite',
      ),
    ) as { version: number; login_base: string };
    expect(updated).to.include({ version: 2, login_base: 'gc' });
    // Watch from the start of the log: the object comes out as JSON, its type resolved by
    // reflection. grpcurl stops at -max-time (a deadline), which is how a watch is left.
    const watched = await exec(grpcurl, [
      '-plaintext',
      ...auth,
      '-max-time',
      '2',
      '-d',
      '{"models":["Site"],"from_cursor":"0.0"}',
      api.address,
      'syncord.v1.ModelService/Watch',
    ]).then(
      (r) => r.stdout,
      (e: unknown) => (e as { stdout?: string }).stdout ?? '',
    );
    expect(watched).to.include('"@type": "type.googleapis.com/syncord.v1.Site"');
    expect(watched).to.include('"name": "from-grpcurl"');
    const described = await run(api.address, 'describe', 'syncord.v1.Port');
    expect(described).to.match(/int32 network_id = 20;/);
  });
});

describe('api: the generated proto', () => {
  it('matches the model registry (run `npm run protos` after changing a model)', () => {
    const registry = defaultRegistry();
    const lock = updateFieldNumbers(registry, readFieldNumbers());
    expect(readFileSync(FIELD_NUMBERS_FILE, 'utf8'), 'field-numbers.json is stale').to.equal(
      `${JSON.stringify(lock, null, 2)}\n`,
    );
    expect(readFileSync(API_PROTO_FILE, 'utf8'), 'models.proto is stale').to.equal(
      renderProto(registry, lock),
    );
  });

  it('keeps field numbers when fields come and go', () => {
    const registry = defaultRegistry();
    const lock = updateFieldNumbers(registry, readFieldNumbers());
    const port = lock.numbers.Port!;
    // A field removed: its number and name are reserved, the others keep their numbers.
    const removedNumber = port.interface_name!;
    const withoutField = {
      models: () =>
        registry.models().map((m) =>
          m.name === 'Port'
            ? {
                ...m,
                allFields: Object.fromEntries(
                  Object.entries(m.allFields).filter(([f]) => f !== 'interface_name'),
                ),
              }
            : m,
        ),
    } as unknown as typeof registry;
    const shrunk = updateFieldNumbers(withoutField, lock);
    expect(shrunk.reserved.Port).to.deep.equal({
      numbers: [removedNumber],
      names: ['interface_name'],
    });
    expect(shrunk.numbers.Port!.network_id).to.equal(port.network_id);
    expect(renderProto(withoutField, shrunk)).to.include(`reserved ${String(removedNumber)};`);
    // Added back: a new number; the old one stays reserved, the name no longer is.
    const back = updateFieldNumbers(registry, shrunk);
    expect(back.numbers.Port!.interface_name).to.be.greaterThan(removedNumber);
    expect(back.reserved.Port).to.deep.equal({ numbers: [removedNumber], names: [] });
    expect(back.numbers.Port!.ip).to.equal(port.ip);
  });
});

describe('api: limits and malformed input', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let api: ApiServer;
  let token: string;

  before(async function () {
    this.timeout(10 * 60_000);
    db = await scratchDb();
    api = await startApiServer({
      listen: '127.0.0.1:0',
      registry: db.registry,
      models: db.service,
      url: db.url,
      rateLimit: { perSecond: 5, burst: 5 },
    });
    const admin = await makeUser(db, 'root', 'admin');
    const login = await clientFor(api.address).call('Login')({
      username: admin.name,
      password: PASSWORD,
    });
    token = login.token as string;
  });
  after(async () => {
    await api.close();
    await db.drop();
  });

  const sites = async () =>
    Number((await db.sql.query<{ n: string }>('SELECT count(*) AS n FROM site')).rows[0]!.n);

  it('refuses calls over the rate limit with when to retry, and lets them through after', async () => {
    const client = clientFor(api.address, token);
    try {
      // Login took one; four more fit the burst of five.
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          client
            .call('WhoAmI')({})
            .then(
              () => 'ok',
              (e: unknown) => e as grpc.ServiceError,
            ),
        ),
      );
      const refusedCalls = results.filter((r): r is grpc.ServiceError => r !== 'ok');
      expect(refusedCalls.length).to.be.at.least(1);
      expect(refusedCalls[0]!.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      expect(refusedCalls[0]!.details).to.match(
        /^rate limit: 5 calls a second per token \(bursts of 5\); retry in \d+ ms$/,
      );
      await new Promise((r) => setTimeout(r, 1100));
      expect(await client.call('WhoAmI')({})).to.include({ name: 'root' });
    } finally {
      client.close();
    }
  });

  it('refuses an oversized request, a malformed message and a page too large, writing nothing', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a fresh bucket
    const client = clientFor(api.address, token);
    const before = await sites();
    try {
      const big = await refused(client.call('CreateSite')({ name: 'x'.repeat(5 * 1024 * 1024) }));
      expect(big.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      const page = await refused(client.call('ListSite')({ page_size: 6000 }));
      expect(page.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(fieldViolations(page)).to.deep.include({
        field: 'page_size',
        description: 'must be an integer from 1 to 5000',
      });
    } finally {
      client.close();
    }
    // Bytes that are not a Site message (field 1 with wire type 7, which protobuf lacks).
    const raw = new grpc.Client(api.address, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    const malformed = await new Promise<grpc.ServiceError>((resolve) => {
      raw.makeUnaryRequest(
        '/syncord.v1.ModelService/CreateSite',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0f, 0x01, 0x02]),
        md,
        (e) => {
          resolve(e!);
        },
      );
    });
    raw.close();
    expect(malformed.code).to.equal(grpc.status.INTERNAL);
    expect(malformed.details).to.match(/deserializ/i);
    expect(await sites()).to.equal(before);
  });
});

describe('api: a watch from now, while the shared feed is behind', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let api: ApiServer;
  let client: ReturnType<typeof clientFor>;

  before(async function () {
    this.timeout(10 * 60_000);
    ({ db, api, client } = await startAsAdmin());
  });
  after(async () => {
    client.close();
    await api.close();
    await db.drop();
  });

  it('a watch from now gets nothing committed before it, even while the shared feed is behind', async () => {
    // A first watcher starts the shared feed; a backlog of creates keeps it busy.
    const busy = client.watch({ models: ['Site'] });
    busy.on('data', () => undefined);
    busy.on('error', () => undefined); // cancelled at the end
    await new Promise((r) => setTimeout(r, 300));
    const backlog = await db.service.createMany(
      'Site',
      Array.from({ length: 3000 }, (_, i) => ({ name: `backlog-${String(i)}` })),
    );
    // A second watcher from now, at once, then one more create.
    const late = client.watch({ models: ['Site'] });
    await new Promise((r) => setTimeout(r, 300));
    const marker = await client.call('CreateSite')({ name: 'after-backlog' });
    const got = await collect(late, (e) => e.some((x) => x.id === marker.id));
    late.cancel();
    busy.cancel();
    const before = new Set(backlog.map((o) => o.id));
    expect(got.filter((e) => before.has(e.id))).to.deep.equal([]);
    expect(got.map((e) => e.id)).to.deep.equal([marker.id]);
  });
});
