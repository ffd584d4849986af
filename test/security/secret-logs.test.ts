// No secret in what `syncord serve` writes, as an operator would look for one: a real serve
// process syncs trust domains to Kubernetes Clusters and OpenStack Clusters whose credentials
// work (the least-privilege ServiceAccount's token; a Keystone user made for the test with a
// password of its own) and whose credentials do not (a forged token, a wrong password, an
// unknown application credential), and users log in with right and wrong passwords. Then the
// process's log, every status and every other column of the database, /metrics, /readyz and the
// namespaces Syncord wrote are searched for each secret. The failures must show (so the search
// covers the error paths), naming their cause, without quoting what was sent.
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import type { Session } from '../../backends/openstack/client.js';
import { Keystone } from '../../backends/openstack/resources.js';
import { callApi } from '../support/api-call.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import {
  adminSession,
  clusterFields,
  openstackOrSkip,
  purgeOpenStack,
  type OsEnv,
} from '../support/openstack.js';
import { eventually, kubeConfig, rig, uniqueName, type RigEnv } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';

type Obj = Record<string, unknown>;
const run = `${String(process.pid)}-${Date.now().toString(36)}`;
const USER_PASSWORD = `user-pass-${run}-never-shown`;
const WRONG_USER_PASSWORD = `wrong-user-pass-${run}-never-shown`;
const FORGED_TOKEN = `forged-token-${run}-never-shown`;
const OS_GOOD_PASSWORD = `os-good-pass-${run}-never-shown`;
const OS_WRONG_PASSWORD = `os-wrong-pass-${run}-never-shown`;
const APP_SECRET = `app-secret-${run}-never-shown`;

describe('security: no secret in the log, status, metrics or backends of a running serve', function () {
  this.timeout(10 * 60_000);
  let env: RigEnv | undefined;
  let os: OsEnv;
  let admin: Session | undefined;
  let db: ScratchDb | undefined;
  let child: ChildProcess | undefined;
  let log = '';
  let url = '';
  let apiAddress = '';
  let saToken = '';
  let keystoneUserId = '';
  const instance = uniqueName('secrets');
  const td: Record<string, number> = {};
  const vm: Record<string, number> = {};
  /** What shows a cluster's failure: its VM (OpenStack) or its trust domain (Kubernetes). */
  let failing: (name: string) => Promise<Obj>;
  /** Every secret, named (the name goes in the failure message, never the value). */
  const secrets = (): [string, string][] => [
    ['the ServiceAccount token', saToken],
    ['the user password', USER_PASSWORD],
    ['the wrong user password', WRONG_USER_PASSWORD],
    ['the forged kubeconfig token', FORGED_TOKEN],
    ['the good OpenStack password', OS_GOOD_PASSWORD],
    ['the wrong OpenStack password', OS_WRONG_PASSWORD],
    ['the application credential secret', APP_SECRET],
  ];
  const leaked = (text: string) =>
    secrets()
      .filter(([, value]) => value && text.includes(value))
      .map(([name]) => name);

  before(async function () {
    this.timeout(10 * 60_000);
    const rigEnv = (env = await rig());
    os = openstackOrSkip(this, 'no secret in logs');
    const session = (admin = adminSession(os));
    const scratch = (db = await scratchDb());
    const svc = scratch.service;

    // The ServiceAccount's kubeconfig (the rig writes it) and its token.
    const saKubeconfig = readFileSync(rigEnv.SYNCORD_KUBECONFIG, 'utf8');
    const kc = new k8s.KubeConfig();
    kc.loadFromString(saKubeconfig);
    saToken = kc.getCurrentUser()?.token ?? '';
    expect(saToken, 'the rig ServiceAccount kubeconfig carries a token').to.have.length.above(20);
    const forged = saKubeconfig.split(saToken).join(FORGED_TOKEN);

    // A Keystone user of the test's own, with a password no one else uses, admin of the admin
    // project (Syncord makes projects and networks with it).
    const keystone = new Keystone(session);
    const made = await session.request<{ user: { id: string } }>('identity', 'POST', '/users', {
      body: {
        user: {
          name: `syncord-${instance}`,
          password: OS_GOOD_PASSWORD,
          domain_id: await keystone.domainId(os.OS_USER_DOMAIN_NAME),
        },
      },
    });
    keystoneUserId = made.user.id;
    const [project] = await keystone.projects({ name: os.OS_PROJECT_NAME });
    await keystone.grant(project!.id, keystoneUserId, await keystone.roleId('admin'));

    const role = await svc.create('Role', { name: 'admin' });
    await svc.create('User', { name: 'root', password: USER_PASSWORD, role_id: role.id });
    const owner = await svc.create('Service', { name: 'owner' });
    const site = await svc.create('Site', { name: 'site' });
    const base = clusterFields(os, '');
    const image = await svc.create('Image', {
      name: 'cirros',
      tag: instance,
      kind: 'vm',
      path: 'cirros',
    });
    const flavor = await svc.create('Flavor', { name: `${instance}-tiny`, flavor: 'm1.tiny' });
    const clusters: [string, Obj][] = [
      ['k8s-good', { kind: 'kubernetes', kubeconfig: saKubeconfig }],
      ['k8s-forged', { kind: 'kubernetes', kubeconfig: forged }],
      ['os-good', { ...base, username: `syncord-${instance}`, password: OS_GOOD_PASSWORD }],
      ['os-wrong', { ...base, password: OS_WRONG_PASSWORD }],
      [
        'os-appcred',
        {
          ...base,
          username: null,
          password: null,
          application_credential_id: `appcred-${run}`,
          application_credential_secret: APP_SECRET,
        },
      ],
    ];
    for (const [name, fields] of clusters) {
      const cluster = await svc.create('Cluster', { ...fields, name: `${instance}-${name}` });
      const t = await svc.create('TrustDomain', {
        name: `${instance}-${name}`,
        owner_id: owner.id,
      });
      const slice = await svc.create('Slice', {
        name: `${instance}-${name}`,
        site_id: site.id,
        trust_domain_id: t.id,
        cluster_id: cluster.id,
      });
      td[name] = t.id;
      // OpenStack is asked only for a VM's sake: a VM (no ports) in each OpenStack slice.
      if (name.startsWith('os-')) {
        vm[name] = (
          await svc.create('OpenStackServiceInstance', {
            name: `${instance}-${name}`,
            owner_id: owner.id,
            slice_id: slice.id,
            image_id: image.id,
            flavor_id: flavor.id,
          })
        ).id;
      }
    }

    child = spawnServe(
      {
        DATABASE_URL: scratch.url,
        SYNCORD_INSTANCE: instance,
        OVN_NB_DB: '',
        OVN_SB_DB: '',
      },
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const take = (chunk: Buffer) => {
      log += chunk.toString();
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    url = await eventually(
      'serve to listen',
      () => Promise.resolve(/serving \/healthz.* on (http:\S+)/.exec(log)?.[1]),
      60_000,
    );
    apiAddress = await eventually(
      'the API to listen',
      () => Promise.resolve(/serving the gRPC model API \S+ on (\S+?),? /.exec(log)?.[1]),
      60_000,
    );

    // Logins: a right password, then a wrong one.
    const { token } = await callApi(apiAddress, undefined, 'Login', {
      username: 'root',
      password: USER_PASSWORD,
    });
    await callApi(apiAddress, undefined, 'Login', {
      username: 'root',
      password: WRONG_USER_PASSWORD,
    }).then(
      () => {
        throw new Error('a wrong password logged in');
      },
      () => undefined,
    );
    await callApi(apiAddress, token as string, 'ListCluster', {});

    // Each trust domain synced, or failed at least once with a reason.
    const status = async (name: string) => svc.get('TrustDomain', td[name]!);
    failing = (name: string) =>
      vm[name] ? svc.get('OpenStackServiceInstance', vm[name]) : svc.get('TrustDomain', td[name]!);
    const ok = (o: Obj) => (o.backend_code === 1 && o.synced_version === o.version ? o : undefined);
    for (const name of ['k8s-good', 'os-good']) {
      await eventually(`trust domain ${name} ok`, async () => ok(await status(name)), 180_000);
    }
    await eventually(
      'the VM with the good password ok',
      async () => ok(await svc.get('OpenStackServiceInstance', vm['os-good']!)),
      180_000,
    );
    // A failing credential shows on what needed it: the namespace (the trust domain) for
    // Kubernetes, the VM for OpenStack.
    for (const name of ['k8s-forged', 'os-wrong', 'os-appcred']) {
      await eventually(
        `${name} failing`,
        async () => {
          const o = await failing(name);
          return (o.backend_code === 2 || Number(o.failures) > 0) && String(o.backend_status)
            ? o
            : undefined;
        },
        180_000,
      );
    }
  });

  after(async function () {
    this.timeout(180_000);
    if (child?.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited(child);
    }
    if (admin) {
      await purgeOpenStack(admin, instance);
      if (keystoneUserId) {
        await admin
          .request('identity', 'DELETE', `/users/${keystoneUserId}`)
          .catch(() => undefined);
      }
    }
    if (env) {
      const core = kubeConfig(env).makeApiClient(k8s.CoreV1Api);
      for (const name of ['k8s-good', 'k8s-forged', 'os-good', 'os-wrong', 'os-appcred']) {
        await core.deleteNamespace({ name: `${instance}-${name}` }).catch(() => undefined);
      }
    }
    await db?.drop();
  });

  it('says why each failing credential fails, without quoting it', async () => {
    const reason = async (name: string) => String((await failing(name)).backend_status);
    expect(await reason('k8s-forged')).to.match(/Unauthorized|401/);
    expect(await reason('os-wrong')).to.match(/Keystone refused the credentials of user/);
    expect(await reason('os-appcred')).to.match(
      new RegExp(`Keystone refused the credentials of application credential appcred-${run}`),
    );
  });

  it('keeps every secret out of /metrics, /readyz and /healthz', async () => {
    const pages = await Promise.all(
      ['/metrics', '/readyz', '/healthz'].map((p) => fetch(`${url}${p}`).then((r) => r.text())),
    );
    expect(pages[0]).to.match(/^# HELP /m);
    expect(leaked(pages.join('\n'))).to.deep.equal([]);
  });

  it("keeps every secret out of serve's log (which shows the failures)", async () => {
    // Stopped first: the log is whole (shutdown included).
    child!.kill('SIGTERM');
    await exited(child!);
    expect(log).to.match(/Keystone refused/);
    expect(leaked(log)).to.deep.equal([]);
  });

  it('keeps every secret out of status and every other column of the database', async () => {
    const secretColumns = new Set(['kubeconfig', 'password', 'application_credential_secret']);
    const found: string[] = [];
    const tables = await db!.sql.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    for (const { table_name } of tables.rows) {
      const rows = await db!.sql.query<Obj>(`SELECT * FROM "${table_name}"`);
      for (const r of rows.rows) {
        // A Cluster keeps its credentials (the synchronizer needs them): those columns only.
        const rest = Object.entries(r).filter(
          ([column]) => !(table_name === 'cluster' && secretColumns.has(column)),
        );
        for (const name of leaked(JSON.stringify(rest))) found.push(`${table_name}: ${name}`);
      }
    }
    expect(tables.rows.length).to.be.above(10);
    expect(found).to.deep.equal([]);
  });

  it('keeps every secret out of the namespace Syncord made with the good credentials', async () => {
    const core = kubeConfig(env!).makeApiClient(k8s.CoreV1Api);
    const ns = await core.readNamespace({ name: `${instance}-k8s-good` });
    expect(ns.metadata?.labels?.['app.kubernetes.io/managed-by']).to.equal('syncord');
    expect(leaked(JSON.stringify(ns))).to.deep.equal([]);
  });
});
