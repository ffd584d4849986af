// `syncord serve` as a user runs it: a process that leads, serves its endpoints, runs the
// policies, and stops cleanly on SIGTERM.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import type { V1Namespace } from '@kubernetes/client-node';
import { KubernetesCluster } from '../../backends/kubernetes/index.js';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';
import { spawnServe } from '../support/serve.js';

describe('cli: syncord serve', function () {
  this.timeout(120_000);
  /** Names this run's objects (its trust domain's namespace among them) apart from other runs'. */
  const prefix = `serve-${String(process.pid)}`;
  let db: ScratchDb;
  let child: ChildProcess;
  let url = '';
  let stderr = '';

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    // Its own owner-label instance, so its orphan sweep leaves other runs' pods alone.
    child = spawnServe(
      { DATABASE_URL: db.url, SYNCORD_INSTANCE: `serve-test-${String(process.pid)}` },
      { args: ['--resync', '5'], stdio: ['ignore', 'inherit', 'pipe'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    url = await eventually(
      'serve to listen',
      () => Promise.resolve(/serving \/healthz.* on (http:\S+)/.exec(stderr)?.[1]),
      60_000,
    );
  });
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await db.drop();
  });

  it('leads, answers /readyz, and runs the vSG policy', async () => {
    await eventually('leading', async () => {
      const r = await fetch(`${url}/readyz`);
      const body = await r.text();
      return body === 'ok: leading\n' ? true : undefined;
    });
    const base = await baseObjects(db.service, prefix);
    const net = await db.service.create('Network', { name: 'access', subnet: '10.60.0.0/24' });
    await db.service.create('NetworkSlice', { network_id: net.id, slice_id: base.slice.id });
    const vsg = await db.service.create('VSGService', { name: 'vsg' });
    const gw = await db.service.create('VSGServiceInstance', {
      name: 'gw',
      owner_id: vsg.id,
      slice_id: base.slice.id,
      s_tag: 1,
      c_tag: 1,
    });
    const done = await eventually('policed', async () => {
      const o = await db.service.get('VSGServiceInstance', gw.id);
      return o.policy_code === 1 ? o : undefined;
    });
    expect(done.policy_status).to.equal('ports net1 on access (10.60.0.2)');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).to.match(/^syncord_reconcile_total\{step="vsg\/ports",outcome="ok"\} [1-9]/m);
  });

  it('tears down what it made when the models are deleted, leaving nothing behind', async () => {
    const kube = KubernetesCluster.fromKubeconfig();
    const namespace = () => kube.get<V1Namespace>('v1', 'Namespace', undefined, `${prefix}-td`);
    const made = await eventually('its namespace', namespace, 60_000);
    expect(made.metadata?.labels?.['syncord.io/instance']).to.equal(
      `serve-test-${String(process.pid)}`,
    );
    const td = await db.service.list('TrustDomain', {
      filter: [{ field: 'name', value: `${prefix}-td` }],
    });
    const nets = await db.service.list('Network', { filter: [{ field: 'name', value: 'access' }] });
    await db.service.delete('TrustDomain', td.items[0]!.id);
    const reaped = (table: string) => async () => {
      const r = await db.sql.query(`SELECT count(*)::int AS n FROM ${table}`);
      return (r.rows[0] as { n: number }).n === 0 ? true : undefined;
    };
    await eventually('the trust domain and all it held reaped', reaped('trust_domain'), 60_000);
    await eventually('the ports reaped', reaped('port'), 60_000);
    await db.service.delete('Network', nets.items[0]!.id);
    await eventually('the network reaped', reaped('network'), 60_000);
    // Kubernetes finishes the namespace's deletion on its own time; it is terminating or gone.
    const after = await namespace();
    expect(after === undefined || after.metadata?.deletionTimestamp !== undefined).to.equal(true);
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(stderr).to.include('SIGTERM: stopping');
  });
});
