// No secret leaves Syncord: a Cluster's kubeconfig (its token), its OpenStack password and its
// application credential's secret are stored because the synchronizer needs them, and are
// write-only everywhere else: the gRPC API (Create, Get, List, Update, Watch), the HTTP gateway
// (objects, lists, server-sent watch events), the GUI's model description and the OpenAPI
// document never carry them, a filter on them is refused (it would let a caller guess them), and
// an unusable kubeconfig's error, which lands in status and logs, does not quote it.
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { apiDefinition } from '../../api/server.js';
import { KubernetesCluster } from '../../backends/kubernetes/index.js';
import { serve, type Server } from '../../synchronizer/serve.js';
import { callApi } from '../support/api-call.js';
import { scratchDb, type ScratchDb } from '../support/db.js';

type Obj = Record<string, unknown>;
const PASSWORD = 'correct horse battery';
const TOKEN = 'tok-4f1c9e2b7a-never-shown';
const OS_PASSWORD = 'os-pass-9d8e7f-never-shown';
const APP_SECRET = 'app-secret-1a2b3c-never-shown';
const SECRETS = [TOKEN, OS_PASSWORD, APP_SECRET];

const kubeconfigWith = (token: string) =>
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
    `users: [{name: u, user: {token: ${token}}}]`,
    'contexts: [{name: x, context: {cluster: c, user: u}}]',
    'current-context: x',
  ].join('\n');

/** Which of the secrets a text contains. */
const leaked = (text: string) => SECRETS.filter((s) => text.includes(s));

describe('security: secrets are write-only (Cluster kubeconfig, password, application credential)', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let server: Server;
  let token: string;
  let client: InstanceType<grpc.ServiceClientConstructor>;

  const unary = (method: string, req: Obj): Promise<Obj> =>
    callApi(server.apiAddress ?? '', token, method, req);

  const http = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(init.headers as Record<string, string> | undefined),
      },
    });
    return { status: res.status, text: await res.text() };
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
    const pkg = grpc.loadPackageDefinition(apiDefinition()) as unknown as {
      syncord: { v1: { ModelService: grpc.ServiceClientConstructor } };
    };
    if (!server.apiAddress) throw new Error('serve did not start the gRPC API');
    client = new pkg.syncord.v1.ModelService(server.apiAddress, grpc.credentials.createInsecure());
    token = '';
    const login = await fetch(`${server.url}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'root', password: PASSWORD }),
    });
    token = ((await login.json()) as { token: string }).token;
  });
  after(async () => {
    client.close();
    await server.stop();
    await db.drop();
  });

  it('stores them for the synchronizer, and no API answer carries them', async () => {
    // A watch from now, open before the writes: its events must not carry them either.
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    const events: Obj[] = [];
    const stream = (
      client.Watch as (r: Obj, m: grpc.Metadata) => grpc.ClientReadableStream<Obj>
    ).call(client, { models: ['Cluster'] }, md);
    stream.on('data', (e: Obj) => events.push(e));
    stream.on('error', () => undefined);
    const sse = new AbortController();
    const sseText: string[] = [];
    const sseDone = fetch(`${server.url}/api/v1/watch?models=Cluster`, {
      headers: { authorization: `Bearer ${token}` },
      signal: sse.signal,
    }).then(async (res) => {
      const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) return;
        sseText.push(Buffer.from(chunk.value).toString());
      }
    });
    await new Promise((r) => setTimeout(r, 300));

    const answers: string[] = [];
    const made = await unary('CreateCluster', {
      name: 'edge',
      kind: 'openstack',
      kubeconfig: kubeconfigWith(TOKEN),
      auth_url: 'http://127.0.0.1:1/v3',
      username: 'admin',
      password: OS_PASSWORD,
      application_credential_id: 'app-1',
      application_credential_secret: APP_SECRET,
    });
    answers.push(JSON.stringify(made));
    const id = made.id as number;
    // The model layer (what the synchronizer reads) has them as given.
    const stored = await db.service.get('Cluster', id);
    expect(stored.kubeconfig).to.equal(kubeconfigWith(TOKEN));
    expect(stored.password).to.equal(OS_PASSWORD);
    expect(stored.application_credential_secret).to.equal(APP_SECRET);

    answers.push(JSON.stringify(await unary('GetCluster', { id })));
    answers.push(JSON.stringify(await unary('ListCluster', {})));
    answers.push(
      JSON.stringify(await unary('UpdateCluster', { object: { id, region_name: 'RegionTwo' } })),
    );
    for (const path of [
      `/api/v1/Cluster/${String(id)}`,
      '/api/v1/Cluster',
      '/api/v1/models',
      '/api/v1/openapi.json',
    ]) {
      const res = await http(path);
      expect(res.status, path).to.equal(200);
      answers.push(res.text);
    }
    const patched = await http(`/api/v1/Cluster/${String(id)}`, {
      method: 'PATCH',
      body: JSON.stringify({ region_name: 'RegionThree' }),
    });
    expect(patched.status).to.equal(200);
    answers.push(patched.text);
    // An edit that does not name them keeps them.
    expect((await db.service.get('Cluster', id)).password).to.equal(OS_PASSWORD);

    await new Promise((r) => setTimeout(r, 500));
    stream.cancel();
    sse.abort();
    await sseDone.catch(() => undefined);
    expect(events.length, 'gRPC watch events').to.be.greaterThan(0);
    expect(sseText.join(''), 'gateway watch events').to.include('"Cluster"');
    answers.push(JSON.stringify(events), sseText.join(''));

    const found = answers.flatMap((a, i) => leaked(a).map((s) => `answer ${String(i)}: ${s}`));
    expect(found).to.deep.equal([]);
    // The description says they are write-only.
    const meta = JSON.parse(answers[6]!) as {
      models: { name: string; fields: { name: string; secret?: boolean }[] }[];
    };
    const cluster = meta.models.find((m) => m.name === 'Cluster')!;
    const secret = cluster.fields.filter((f) => f.secret).map((f) => f.name);
    expect(secret.sort()).to.deep.equal([
      'application_credential_secret',
      'kubeconfig',
      'password',
    ]);
  });

  it('refuses to filter on them, naming the field (no guessing)', async () => {
    const err = await unary('ListCluster', {
      filter: [{ field: 'password', value: { stringValue: OS_PASSWORD } }],
    }).then(
      () => undefined,
      (e: unknown) => e as grpc.ServiceError,
    );
    expect(err?.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).to.include('password').and.include('secret');
    const res = await http(`/api/v1/Cluster?kubeconfig__contains=${TOKEN}`);
    expect(res.status).to.equal(400);
    expect(res.text).to.include('kubeconfig');
    expect(leaked(res.text)).to.deep.equal([]);
  });

  it('does not quote an unusable kubeconfig (its token) in the error that reaches status and logs', () => {
    const broken = [
      kubeconfigWith(TOKEN).replace('current-context: x', 'contexts: ['),
      `{"users": [{"user": {"token": "${TOKEN}"}}]`,
      `users:\n- name: u\n  user:\n    token: ${TOKEN}\n   bad: indent\n`,
    ];
    for (const text of broken) {
      let message = '';
      try {
        KubernetesCluster.fromKubeconfig(text);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, text).to.match(/^the kubeconfig given is not usable: /);
      expect(leaked(message), message).to.deep.equal([]);
    }
  });
});
