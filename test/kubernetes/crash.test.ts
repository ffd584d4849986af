// kill -9 of `syncord serve` between two Kubernetes writes, then a restart: the chain converges
// with no duplicate and no leaked object, whichever write the crash followed. A first run counts
// the writes of a convergence (failpoint log); then the process is killed after write k for
// several k, and a second process finishes the job.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelObject } from '../../models/service.js';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';
import { exited, spawnServe } from '../support/serve.js';
import { eventually, kubeConfig, rig, uniqueName, type RigEnv } from '../support/rig.js';

interface Run {
  db: ScratchDb;
  instance: string;
  namespace: string;
  vnfs: ModelObject[];
}

function startServe(run: Run, env: Record<string, string>): ChildProcess {
  // Kubernetes only: this sweep leaves OVN to test/ovn/crash.test.ts.
  return spawnServe({
    DATABASE_URL: run.db.url,
    SYNCORD_INSTANCE: run.instance,
    OVN_NB_DB: '',
    OVN_SB_DB: '',
    ...env,
  });
}

describe('kubernetes: kill -9 between writes, then restart', function () {
  this.timeout(15 * 60_000);
  let env: RigEnv;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  const cleanup: (() => Promise<void>)[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    core = kubeConfig(env).makeApiClient(k8s.CoreV1Api);
    custom = kubeConfig(env).makeApiClient(k8s.CustomObjectsApi);
  });
  after(async () => {
    for (const c of cleanup) await c().catch(() => undefined);
  });

  /** A trust domain, two networks, two VNF instances with a port on each network. */
  async function newRun(): Promise<Run> {
    const db = await scratchDb();
    const namespace = uniqueName('crash');
    const instance = uniqueName('crash-inst');
    const base = await baseObjects(db.service, 'crash');
    await db.service.update('TrustDomain', base.td.id, { name: namespace });
    const nets = [
      await db.service.create('Network', { name: 'left', subnet: '10.70.0.0/24' }),
      await db.service.create('Network', { name: 'right', subnet: '10.71.0.0/24' }),
    ];
    const vnfs: ModelObject[] = [];
    for (const name of ['vnf-a', 'vnf-b']) {
      const vnf = await db.service.create('VNFServiceInstance', {
        name,
        owner_id: base.service.id,
        slice_id: base.slice.id,
        image_id: base.image.id,
        config: { name },
      });
      for (const [i, net] of nets.entries()) {
        await db.service.create('Port', {
          network_id: net.id,
          service_instance_id: vnf.id,
          interface_name: `net${String(i + 1)}`,
        });
      }
      vnfs.push(vnf);
    }
    cleanup.push(async () => {
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      await db.drop();
    });
    return { db, instance, namespace, vnfs };
  }

  async function converged(run: Run): Promise<void> {
    await eventually(
      'every object synchronized and both pods Running',
      async () => {
        for (const v of run.vnfs) {
          const o = await run.db.service.get('VNFServiceInstance', v.id);
          if (o.backend_code !== 1 || o.synced_version !== o.version) return undefined;
          if (o.pod_phase !== 'Running') return undefined;
        }
        const ports = await run.db.service.list('Port');
        return ports.items.every((p) => p.backend_code === 1) ? true : undefined;
      },
      90_000,
    );
  }

  /** What Syncord owns in the namespace: exactly one pod per instance, one NAD per network. */
  async function assertExact(run: Run): Promise<void> {
    const selector = `syncord.io/instance=${run.instance}`;
    const pods = (
      await core.listNamespacedPod({ namespace: run.namespace, labelSelector: selector })
    ).items;
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    expect(live.map((p) => p.metadata?.labels?.['syncord.io/id']).sort()).to.deep.equal(
      run.vnfs.map((v) => String(v.id)).sort(),
    );
    const nads = (await custom.listNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace: run.namespace,
      plural: 'network-attachment-definitions',
      labelSelector: selector,
    })) as { items: { metadata: { name: string } }[] };
    expect(nads.items.map((n) => n.metadata.name).sort()).to.deep.equal(['left', 'right']);
    const maps = (
      await core.listNamespacedConfigMap({ namespace: run.namespace, labelSelector: selector })
    ).items;
    expect(maps).to.have.length(2);
  }

  let writes = 0;

  it('converges once, counting its Kubernetes writes', async () => {
    const run = await newRun();
    const dir = mkdtempSync(join(tmpdir(), 'syncord-failpoints-'));
    const logFile = join(dir, 'log');
    const child = startServe(run, { SYNCORD_FAILPOINT_LOG: logFile });
    try {
      await converged(run);
      await assertExact(run);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
    writes = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l === 'kubernetes-write').length;
    rmSync(dir, { recursive: true, force: true });
    expect(writes).to.be.at.least(6); // namespace, 2 NADs, 2 config maps, 2 pods, ...
    process.stderr.write(`      (a convergence made ${String(writes)} Kubernetes writes)\n`);
  });

  for (const where of ['first', 'second', 'middle', 'next to last', 'last'] as const) {
    it(`a crash after the ${where} write leaves no duplicate and no leak after a restart`, async function () {
      if (writes === 0) this.skip(); // the counting run failed: its error says why
      const k = {
        first: 1,
        second: 2,
        middle: Math.ceil(writes / 2),
        'next to last': writes - 1,
        last: writes,
      }[where];
      const run = await newRun();
      const crashing = startServe(run, { SYNCORD_FAILPOINT: `kubernetes-write:${String(k)}` });
      // A convergence does not always make the same number of writes (a pod is re-applied when
      // the watch has not yet seen it): when this one converged with fewer than k, it is killed
      // right there, after its last write, which is the point the case is about.
      let timer: NodeJS.Timeout | undefined;
      try {
        const outcome = await Promise.race([
          exited(crashing).then(() => 'crashed' as const),
          converged(run).then(
            () => 'converged' as const,
            () => new Promise<never>(() => undefined), // the timer below says it
          ),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              reject(new Error(`no crash at write ${String(k)} within 60 s`));
            }, 60_000);
          }),
        ]);
        if (outcome === 'converged' && crashing.exitCode === null && crashing.signalCode === null) {
          crashing.kill('SIGKILL');
          await exited(crashing);
        }
      } finally {
        clearTimeout(timer);
      }
      expect(crashing.signalCode).to.equal('SIGKILL');
      const second = startServe(run, {});
      try {
        await converged(run);
        await assertExact(run);
      } finally {
        second.kill('SIGTERM');
        await exited(second);
      }
    });
  }
});
