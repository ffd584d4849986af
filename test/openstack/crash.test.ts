// kill -9 of `syncord serve` in the middle of a VM's convergence on the rig's real OpenStack, then
// a restart: no leaked port, no second server, no second network. First between the ports'
// creation and the server's boot (a failpoint there); then after every OpenStack write in turn
// (each process is killed after its first write, the next one goes on from there, until one
// converges). Skipped, saying why, without OpenStack.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import type { Session } from '../../backends/openstack/client.js';
import { Keystone, Neutron, Nova } from '../../backends/openstack/resources.js';
import type { ModelObject } from '../../models/service.js';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';
import {
  adminSession,
  clusterFields,
  openstackOrSkip,
  purgeOpenStack,
  type OsEnv,
} from '../support/openstack.js';
import { eventually, rig, uniqueName } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';

interface Run {
  db: ScratchDb;
  instance: string;
  td: ModelObject;
  vnf: ModelObject;
  ports: ModelObject[];
  networks: ModelObject[];
}

describe('openstack: kill -9 in the middle of a VM convergence, then restart', function () {
  this.timeout(15 * 60_000);
  let os: OsEnv;
  let nova: Nova;
  let neutron: Neutron;
  let keystone: Keystone;
  let admin: Session;
  const runs: Run[] = [];

  before(async function () {
    os = openstackOrSkip(this, 'openstack crash');
    this.timeout(45 * 60_000);
    await rig();
    admin = adminSession(os);
    nova = new Nova(admin);
    neutron = new Neutron(admin);
    keystone = new Keystone(admin);
  });

  after(async function () {
    this.timeout(120_000);
    for (const run of runs) {
      await purgeOpenStack(admin, run.instance);
      await run.db.drop();
    }
  });

  /** A VM VNF on the OpenStack Cluster with a port on each of two networks, not yet synced. */
  async function newRun(): Promise<Run> {
    const db = await scratchDb();
    const svc = db.service;
    const instance = uniqueName('oscrash');
    const base = await baseObjects(svc, 'oscrash');
    const td = await svc.update('TrustDomain', base.td.id, { name: uniqueName('oscrash-td') });
    const cluster = await svc.create('Cluster', clusterFields(os, 'rig-openstack'));
    await svc.update('Slice', base.slice.id, { cluster_id: cluster.id });
    const third = 10 + Math.floor(Math.random() * 200);
    const networks = [
      await svc.create('Network', { name: 'left', subnet: `10.150.${String(third)}.0/24` }),
      await svc.create('Network', { name: 'right', subnet: `10.151.${String(third)}.0/24` }),
    ];
    const image = await svc.create('Image', { name: 'cirros', tag: 'vm', kind: 'vm' });
    const flavor = await svc.create('Flavor', { name: 'm1.tiny' });
    const vnf = await svc.create('VNFServiceInstance', {
      name: 'fw-vm',
      owner_id: base.service.id,
      slice_id: base.slice.id,
      image_id: image.id,
      flavor_id: flavor.id,
      workload: 'vm',
    });
    const ports = [];
    for (const [i, net] of networks.entries()) {
      ports.push(
        await svc.create('Port', {
          network_id: net.id,
          service_instance_id: vnf.id,
          interface_name: `eth${String(i)}`,
        }),
      );
    }
    const run = { db, instance, td, vnf, ports, networks };
    runs.push(run);
    return run;
  }

  const start = (run: Run, env: Record<string, string>): ChildProcess =>
    spawnServe({ DATABASE_URL: run.db.url, SYNCORD_INSTANCE: run.instance, ...env });

  async function converged(run: Run, timeoutMs = 180_000): Promise<void> {
    await eventually(
      'the VM VNF and its ports synced',
      async () => {
        const vnf = await run.db.service.get('VNFServiceInstance', run.vnf.id);
        if (vnf.backend_code !== 1 || vnf.vm_status !== 'ACTIVE') return undefined;
        for (const p of run.ports) {
          const port = await run.db.service.get('Port', p.id);
          if (port.backend_code !== 1) return undefined;
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** What OpenStack holds for the run: each object exactly once. */
  async function assertExact(run: Run): Promise<void> {
    const tag = `syncord-instance=${run.instance}`;
    const servers = await nova.servers({ tags: tag, all_tenants: true });
    expect(servers.map((s) => s.name)).to.deep.equal([
      `syncord-${run.instance}-VNFServiceInstance-${String(run.vnf.id)}`,
    ]);
    const ports = await neutron.ports({ tags: tag });
    expect(ports.map((p) => p.name).sort()).to.deep.equal(
      run.ports.map((p) => `syncord-${run.instance}-Port-${String(p.id)}`).sort(),
    );
    for (const p of ports) expect(p.device_id).to.equal(servers[0]!.id);
    // None made without its tag either (a create whose tag call was cut off).
    for (const p of run.ports) {
      const named = await neutron.ports({ name: `syncord-${run.instance}-Port-${String(p.id)}` });
      expect(named, `Neutron ports of Port ${String(p.id)}`).to.have.length(1);
    }
    const networks = await neutron.networks({ tags: tag });
    expect(networks).to.have.length(run.networks.length);
    for (const n of networks) {
      expect((await neutron.subnets({ network_id: n.id })).length, `subnets of ${n.name}`).to.equal(
        1,
      );
    }
    expect(await keystone.projects({ name: String(run.td.name) })).to.have.length(1);
  }

  /** Where the run's objects are, for a failure's message. */
  async function where(run: Run): Promise<string> {
    const out = [];
    for (const [model, id] of [
      ['VNFServiceInstance', run.vnf.id],
      ...run.ports.map((p) => ['Port', p.id] as const),
    ] as const) {
      const o = await run.db.service.get(model, id);
      out.push(`${model} ${String(id)} at ${String(o.backend_code)}: ${String(o.backend_status)}`);
    }
    return out.join('; ');
  }

  /** Waits for the process to kill itself at its failpoint, or to converge without reaching it. */
  async function crashOrConverge(run: Run, child: ChildProcess): Promise<'crashed' | 'converged'> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        exited(child).then(() => 'crashed' as const),
        converged(run).then(
          () => 'converged' as const,
          () => new Promise<never>(() => undefined), // the timer below says it
        ),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            void where(run).then((w) => {
              reject(new Error(`neither a crash nor convergence within 120 s: ${w}`));
            });
          }, 120_000);
        }),
      ]);
      if (outcome === 'crashed') expect(child.signalCode).to.equal('SIGKILL');
      return outcome;
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited(child);
      }
    }
  }

  it('between the ports and the boot: the restart boots one server on the same ports', async () => {
    const run = await newRun();
    const crashing = start(run, { SYNCORD_FAILPOINT: 'openstack-before-boot:1' });
    expect(await crashOrConverge(run, crashing)).to.equal('crashed');
    const tag = `syncord-instance=${run.instance}`;
    expect(await nova.servers({ tags: tag, all_tenants: true })).to.have.length(0);
    const before = (await neutron.ports({ tags: tag })).map((p) => p.id).sort();
    expect(before).to.have.length(run.ports.length);

    const second = start(run, {});
    try {
      await converged(run);
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
    await assertExact(run);
    expect((await neutron.ports({ tags: tag })).map((p) => p.id).sort()).to.deep.equal(before);
  });

  it('after every OpenStack write in turn: no duplicate, no leak', async () => {
    const run = await newRun();
    let crashes = 0;
    for (;;) {
      const child = start(run, { SYNCORD_FAILPOINT: 'openstack-write:1' });
      if ((await crashOrConverge(run, child)) === 'converged') break;
      crashes++;
      if (crashes >= 40) {
        throw new Error(`no convergence after 40 crashes: ${await where(run)}`);
      }
    }
    process.stderr.write(
      `      (${String(crashes)} crashes, one after each OpenStack write, before a run converged)\n`,
    );
    // project, role, 2 × (network, tag, subnet), 2 × (port, tag), server: at least 12 writes.
    expect(crashes).to.be.at.least(12);
    await assertExact(run);
  });
});
