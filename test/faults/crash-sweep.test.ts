// kill -9 of `syncord serve` at every step boundary of a whole chain's convergence, then a
// restart: the backends end exactly as an uncrashed convergence leaves them, whichever write the
// crash followed. The chain is a trust domain (namespace), two networks (OVN logical switches,
// one routed; VTN service networks) and two VNF instances with a port on each network (pods with
// their NADs, OVN switch ports, VTN service ports and, once the pods run, VTN hosts). Every
// external write is a failpoint (kubernetes-write, ovn-write, vtn-write): a first run counts them
// (SYNCORD_FAILPOINT_LOG) and records what the backends hold; then the process is killed after the
// k-th write of any kind (SYNCORD_FAILPOINT=*:k) and a second process finishes the job.
//
// In CI a spread of k (first, second, each quarter, next to last, last); SYNCORD_FAULTS_FULL=1
// sweeps every k.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OvsdbClient, select } from '../../backends/ovn/ovsdb.js';
import { text } from '../../steps/ovn/runtime.js';
import { VtnClient } from '../../backends/vtn/client.js';
import type { ModelObject } from '../../models/service.js';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';
import { eventually, kubeConfig, rig, uniqueName, type RigEnv } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';

const FULL = process.env.SYNCORD_FAULTS_FULL === '1';
const OVN_TABLES = [
  'Logical_Switch',
  'Logical_Switch_Port',
  'DHCP_Options',
  'Logical_Router',
  'Logical_Router_Port',
] as const;

interface Run {
  db: ScratchDb;
  instance: string;
  namespace: string;
  vnfs: ModelObject[];
}

/** What the backends hold for a run, its names made run-independent; sorted, so duplicates show. */
interface Held {
  pods: string[];
  nads: string[];
  configMaps: number;
  ovn: Record<string, string[]>;
  vtnNetworks: string[];
  vtnPorts: string[];
  vtnHosts: number;
}

describe('faults: kill -9 at every write of a chain (Kubernetes, OVN, VTN), then restart', function () {
  this.timeout(30 * 60_000);
  let env: RigEnv;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let nb: OvsdbClient;
  let vtn: VtnClient;
  const cleanup: (() => Promise<void>)[] = [];
  let writes: string[] = [];
  let reference: Held | undefined;
  let vniBase = 0;

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    core = kubeConfig(env).makeApiClient(k8s.CoreV1Api);
    custom = kubeConfig(env).makeApiClient(k8s.CustomObjectsApi);
    nb = await OvsdbClient.connect(env.OVN_NB_DB, { database: 'OVN_Northbound', reconnect: false });
    vtn = new VtnClient(env.SYNCORD_VTN_ADDRESS);
    // VNIs are global in VTN: this process's own range.
    vniBase = 3_000_000 + (process.pid % 50_000) * 40;
  });
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    nb.close();
    vtn.close();
  });

  let runs = 0;
  /** A fresh chain in a scratch database (same ids in every run: each database starts alike). */
  async function newRun(): Promise<Run> {
    const db = await scratchDb();
    const namespace = uniqueName('sweep');
    const instance = uniqueName('sweep-inst');
    const base = await baseObjects(db.service, 'sweep');
    await db.service.update('TrustDomain', base.td.id, { name: namespace });
    const vni = vniBase + 2 * runs++;
    const nets = [
      await db.service.create('Network', {
        name: 'left',
        subnet: '10.72.0.0/24',
        type: 'PRIVATE',
        segment_id: vni,
        owner_id: base.slice.id,
      }),
      await db.service.create('Network', {
        name: 'right',
        subnet: '10.73.0.0/24',
        type: 'MANAGEMENT_LOCAL',
        segment_id: vni + 1,
        owner_id: base.slice.id,
      }),
    ];
    const vnfs: ModelObject[] = [];
    for (const name of ['vnf-a', 'vnf-b']) {
      const vnf = await db.service.create('VNFServiceInstance', {
        name,
        owner_id: base.service.id,
        slice_id: base.slice.id,
        image_id: base.image.id,
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
    const run = { db, instance, namespace, vnfs };
    cleanup.push(async () => {
      await teardown(run);
      await db.drop();
    });
    return run;
  }

  function startServe(run: Run, extra: Record<string, string>): ChildProcess {
    return spawnServe({
      DATABASE_URL: run.db.url,
      SYNCORD_INSTANCE: run.instance,
      // Kubernetes, OVN and VTN only: no OpenStack here.
      OS_AUTH_URL: undefined,
      ...extra,
    });
  }

  /** Every model ok at its version, both pods Running, and VTN holding a host per port. */
  async function converged(run: Run, timeoutMs = 120_000): Promise<void> {
    await eventually(
      'the chain synchronized: every object ok, pods Running, a VTN host per port',
      async () => {
        for (const model of ['VNFServiceInstance', 'Port', 'Network', 'TrustDomain']) {
          for (const o of await listAll(run, model)) {
            if (o.backend_code !== 1 || o.synced_version !== o.version) return undefined;
          }
        }
        for (const v of run.vnfs) {
          const o = await run.db.service.get('VNFServiceInstance', v.id);
          if (o.pod_phase !== 'Running') return undefined;
        }
        const hosts = await vtn.listHosts({ 'syncord-instance': run.instance });
        return hosts.length === 4 ? true : undefined;
      },
      timeoutMs,
    );
  }

  async function listAll(run: Run, model: string): Promise<ModelObject[]> {
    return (await run.db.service.list(model, { pageSize: 1000 })).items;
  }

  /** What the three backends hold for the run. */
  async function held(run: Run): Promise<Held> {
    const norm = (s: string) => s.replaceAll(run.instance, '<instance>');
    const selector = `syncord.io/instance=${run.instance}`;
    const pods = (
      await core.listNamespacedPod({ namespace: run.namespace, labelSelector: selector })
    ).items.filter((p) => !p.metadata?.deletionTimestamp);
    const nads = (await custom.listNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace: run.namespace,
      plural: 'network-attachment-definitions',
      labelSelector: selector,
    })) as { items: { metadata: { name: string } }[] };
    const maps = await core.listNamespacedConfigMap({
      namespace: run.namespace,
      labelSelector: selector,
    });
    const where = [['external_ids', 'includes', { 'syncord-instance': run.instance }]] as const;
    const results = await nb.transact(OVN_TABLES.map((t) => select(t, where)));
    const ovn: Record<string, string[]> = {};
    OVN_TABLES.forEach((t, i) => {
      ovn[t] = (results[i]?.rows ?? []).map((r) => norm(text(r.name ?? r.cidr))).sort();
    });
    const mine = { 'syncord-instance': run.instance };
    return {
      pods: pods.map((p) => p.metadata?.name ?? '').sort(),
      nads: nads.items.map((n) => n.metadata.name).sort(),
      configMaps: maps.items.length,
      ovn,
      vtnNetworks: (await vtn.listNetworks(mine)).map((n) => norm(n.id)).sort(),
      vtnPorts: (await vtn.listPorts(mine)).map((p) => norm(p.id)).sort(),
      vtnHosts: (await vtn.listHosts(mine)).length,
    };
  }

  /** Removes what a run left in OVN and VTN (its namespace takes its pods and NADs). */
  async function teardown(run: Run): Promise<void> {
    const mine = { 'syncord-instance': run.instance };
    for (const h of await vtn.listHosts(mine)) if (h.host_id) await vtn.hostVanished(h.host_id);
    for (const p of await vtn.listPorts(mine)) await vtn.deletePort(p.id);
    for (const n of await vtn.listNetworks(mine)) await vtn.deleteNetwork(n.id);
    const where = [['external_ids', 'includes', mine]] as const;
    await nb.transact(
      [...OVN_TABLES].reverse().map((table) => ({ op: 'delete' as const, table, where })),
    );
    await core.deleteNamespace({ name: run.namespace }).catch(() => undefined);
  }

  it('converges once, counting its writes in each backend', async () => {
    const run = await newRun();
    const dir = mkdtempSync(join(tmpdir(), 'syncord-sweep-'));
    const logFile = join(dir, 'log');
    const child = startServe(run, { SYNCORD_FAILPOINT_LOG: logFile });
    try {
      await converged(run);
      // Idle a moment: a write still under way would be left out of the count.
      await new Promise((r) => setTimeout(r, 1000));
      reference = await held(run);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
    writes = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
    rmSync(dir, { recursive: true, force: true });
    const by = (name: string) => writes.filter((w) => w === name).length;
    process.stderr.write(
      `      (a convergence made ${String(writes.length)} writes: Kubernetes ${String(by('kubernetes-write'))}, ` +
        `OVN ${String(by('ovn-write'))}, VTN ${String(by('vtn-write'))}; ${FULL ? 'every one' : 'a spread'} is crashed after below)\n`,
    );
    expect(by('kubernetes-write')).to.be.at.least(5); // namespace, NADs, config maps, pods
    expect(by('ovn-write')).to.be.at.least(2);
    expect(by('vtn-write')).to.be.at.least(4); // networks, ports, hosts
    expect(reference.pods).to.have.length(2);
    expect(reference.vtnPorts).to.have.length(4);
    expect(reference.vtnHosts).to.equal(4);
    expect(reference.ovn.Logical_Switch).to.have.length(2);
  });

  const points = (n: number): number[] =>
    FULL
      ? Array.from({ length: n }, (_, i) => i + 1)
      : [
          ...new Set(
            [1, 2, n / 4, n / 2, (3 * n) / 4, n - 1, n].map((k) =>
              Math.min(n, Math.max(1, Math.round(k))),
            ),
          ),
        ];

  it('after a crash at any write, a restart leaves exactly what an uncrashed run leaves', async function () {
    if (!reference || writes.length === 0) this.skip(); // the counting run failed: its error says why
    const wrong: string[] = [];
    for (const k of points(writes.length)) {
      const run = await newRun();
      const crashing = startServe(run, { SYNCORD_FAILPOINT: `*:${String(k)}` });
      // A convergence does not always make the same number of writes (a pod re-applied when the
      // watch has not yet seen it): one that converges with fewer than k is killed right there,
      // after its last write, which is the point the case is about.
      const outcome = await Promise.race([
        exited(crashing).then(() => 'crashed' as const),
        converged(run, 90_000).then(
          () => 'converged' as const,
          () => 'stuck' as const,
        ),
      ]);
      if (crashing.exitCode === null && crashing.signalCode === null) {
        crashing.kill('SIGKILL');
        await exited(crashing);
      }
      if (outcome === 'stuck') {
        wrong.push(`k=${String(k)}: neither crashed nor converged in 90 s`);
        continue;
      }
      const second = startServe(run, {});
      try {
        await converged(run);
        await new Promise((r) => setTimeout(r, 500));
        const now = await held(run);
        if (JSON.stringify(now) !== JSON.stringify(reference)) {
          wrong.push(
            `k=${String(k)} (${writes[k - 1] ?? '?'}): ${JSON.stringify(now)} instead of ${JSON.stringify(reference)}`,
          );
        }
      } catch (err) {
        wrong.push(`k=${String(k)} (${writes[k - 1] ?? '?'}): ${(err as Error).message}`);
      } finally {
        second.kill('SIGTERM');
        await exited(second);
      }
      // Each run's objects go as soon as it is checked: the rig stays small.
      await teardown(run).catch(() => undefined);
    }
    expect(wrong).to.deep.equal([]);
  });
});
