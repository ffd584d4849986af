// Backend outages under a running synchronizer (issue 13): a private OVN northbound ovsdb-server
// and a private reference VTN server are stopped while models are edited, then started again on
// the data they kept. Each test asserts what an operator would check: while the backend was gone
// the objects said so (an error naming it, retrying at a time), and afterwards the backend holds
// exactly the objects the models ask for (no duplicate, no leak) with every edit made meanwhile.
// Outages last 8 s, or 30 s with SYNCORD_FAULTS_FULL=1.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VtnClient } from '../../backends/vtn/client.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { ovnStepSet } from '../../steps/ovn/index.js';
import { vtnNetworkId, vtnPortId, vtnStepSet } from '../../steps/vtn/index.js';
import { Engine, type SyncStep } from '../../synchronizer/engine.js';
import { PrivateOvsdb } from '../ovn/private-ovsdb.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { rig, sleep, uniqueName } from '../support/rig.js';
import { spawnVtn, type VtnProcess } from '../support/vtn.js';
import {
  expectOutageShown,
  OUTAGE,
  OUTAGE_MS,
  reaped,
  StatusRecorder,
  stopRecorders,
  syncedNow,
} from './support.js';

const exec = promisify(execFile);
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

const lines = (text: string) => text.split('\n').filter(Boolean);

interface Run {
  db: ScratchDb;
  svc: ModelService;
  engine: Engine;
  log: string[];
}

async function startEngine(steps: SyncStep[], log: string[]): Promise<Run> {
  const db = await scratchDb();
  const engine = new Engine(db.registry, db.service, steps, {
    url: db.url,
    workers: 4,
    resyncMs: 60 * 60_000,
    backoff: { baseMs: 300, maxMs: 2000 },
    log: (l) => log.push(`${new Date().toISOString()} ${l}`),
  });
  await engine.start();
  return { db, svc: db.service, engine, log };
}

/**
 * While the backend is down: records the objects' statuses, makes the edits (a port added, a
 * network edited, a port deleted), waits out the outage and checks that the new port could not be
 * synced. Returns the new port, the deleted one and the recorder.
 */
async function editWhileDown(
  svc: ModelService,
  backend: string,
  down: number,
  o: {
    networks: ModelObject[];
    ports: ModelObject[];
    si: ModelObject;
    edited: ModelObject;
    edit: Record<string, unknown>;
  },
): Promise<{ added: ModelObject; removed: ModelObject; rec: StatusRecorder }> {
  const tracked: { model: string; id: number }[] = [
    ...o.networks.map((n) => ({ model: 'Network', id: n.id })),
    ...o.ports.map((p) => ({ model: 'Port', id: p.id })),
  ];
  const rec = new StatusRecorder(svc, () => tracked);
  rec.start();
  const added = await svc.create('Port', {
    network_id: o.edited.id,
    service_instance_id: o.si.id,
  });
  tracked.push({ model: 'Port', id: added.id });
  await svc.update('Network', o.edited.id, o.edit);
  const removed = o.ports[0]!;
  await svc.delete('Port', removed.id);
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
  // Still down at the end of the outage: the new port is not synced (its status says why).
  const waiting = await svc.get('Port', added.id);
  expect(
    waiting.synced_version,
    `the new port cannot be synced while ${backend} is down`,
  ).to.not.equal(waiting.version);
  return { added, removed, rec };
}

/** Two networks, an instance, and three ports (two on the first network, one on the second). */
async function topology(svc: ModelService, tag: string, nets: Record<string, unknown>[]) {
  const service = await svc.create('Service', { name: `${tag}-svc` });
  const si = await svc.create('ServiceInstance', { name: `${tag}-si`, owner_id: service.id });
  const networks: ModelObject[] = [];
  for (const [i, values] of nets.entries()) {
    networks.push(await svc.create('Network', { name: `${tag}-net${String(i)}`, ...values }));
  }
  const [a, b] = networks as [ModelObject, ModelObject];
  const ports: ModelObject[] = [];
  for (const net of [a, a, b]) {
    ports.push(await svc.create('Port', { network_id: net.id, service_instance_id: si.id }));
  }
  return { si, networks, ports };
}

describe(`faults: backend outages of ${OUTAGE}`, function () {
  this.timeout(10 * 60_000);

  before(async function () {
    this.timeout(45 * 60_000);
    await rig(); // the scratch databases are on the rig's PostgreSQL
  });

  describe('the OVN northbound ovsdb-server stopped, edited under, and restarted', () => {
    let server: PrivateOvsdb | undefined;
    let run: Run | undefined;
    const log: string[] = [];

    after(async function () {
      this.timeout(60_000);
      await stopRecorders();
      await run?.engine.stop();
      await server?.destroy();
      await run?.db.drop();
    });
    afterEach(function () {
      if (this.currentTest?.state === 'failed') console.log(log.slice(-60).join('\n'));
    });

    it(`fault: ovsdb-server stopped for ${OUTAGE} and restarted on its database; edits made meanwhile land, nothing duplicated or leaked`, async () => {
      server = await PrivateOvsdb.create();
      await server.start();
      const srv = server;
      const instance = uniqueName('fault-ovn');
      const set = ovnStepSet({
        nbEndpoint: srv.tcp,
        instance,
        log: (l) => log.push(`${new Date().toISOString()} ${l}`),
      });
      run = await startEngine(set.steps, log);
      const { svc } = run;
      const nbctl = async (...args: string[]) =>
        (await exec('ovn-nbctl', [`--db=${srv.unix}`, ...args])).stdout.trim();

      const { si, networks, ports } = await topology(svc, instance, [
        { subnet: '10.61.0.0/24', exclude_ips: '10.61.0.200..10.61.0.210' },
        { subnet: '10.62.0.0/24', exclude_ips: '10.62.0.200' },
      ]);
      const [a, b] = networks as [ModelObject, ModelObject];
      for (const n of networks) await syncedNow(svc, 'Network', n.id, 30_000, log);
      for (const p of ports) await syncedNow(svc, 'Port', p.id, 30_000, log);

      // The server stops (SIGTERM, as a service stop does); its database file stays.
      await srv.signal('SIGTERM');
      const down = Date.now();
      const { added, removed, rec } = await editWhileDown(svc, 'OVN', down, {
        networks,
        ports,
        si,
        edited: b,
        edit: { exclude_ips: '10.62.0.100..10.62.0.120' },
      });
      await srv.start();
      const up = Date.now();

      const live = [...ports.slice(1), added];
      for (const p of live) await syncedNow(svc, 'Port', p.id, 60_000, log);
      for (const n of networks) await syncedNow(svc, 'Network', n.id, 60_000, log);
      await reaped(svc, 'Port', removed.id, 60_000);
      console.log(
        `      (down ${String(up - down)} ms; converged ${String(Date.now() - up)} ms after the restart)`,
      );
      await rec.stop();
      const shown = expectOutageShown(rec, /OVN|northbound|ovsdb/i);
      console.log(
        `      (status during the outage: ${shown.model} ${String(shown.id)}: ${shown.backend_status})`,
      );

      // Northbound: exactly a switch per network, a switch port per live port with its address,
      // nothing of the deleted port, the new exclude range, one router.
      const mine = `external_ids:syncord-instance=${instance}`;
      const find = async (table: string, ...conds: string[]) =>
        lines(await nbctl('--bare', '--columns=_uuid', 'find', table, mine, ...conds));
      expect(await find('Logical_Switch')).to.have.length(networks.length);
      for (const n of networks) {
        const ls = await find(
          'Logical_Switch',
          'external_ids:syncord-model=Network',
          `external_ids:syncord-id=${String(n.id)}`,
        );
        expect(ls, `switches of Network ${String(n.id)}`).to.have.length(1);
      }
      const bSwitch = (
        await find(
          'Logical_Switch',
          'external_ids:syncord-model=Network',
          `external_ids:syncord-id=${String(b.id)}`,
        )
      )[0]!;
      expect(await nbctl('get', 'Logical_Switch', bSwitch, 'other_config:exclude_ips')).to.include(
        '10.62.0.100..10.62.0.120',
      );
      const aSwitch = (
        await find(
          'Logical_Switch',
          'external_ids:syncord-model=Network',
          `external_ids:syncord-id=${String(a.id)}`,
        )
      )[0]!;
      expect(await nbctl('get', 'Logical_Switch', aSwitch, 'other_config:exclude_ips')).to.include(
        '10.61.0.200..10.61.0.210',
      );
      const lsps = await find('Logical_Switch_Port', 'external_ids:syncord-model=Port');
      const ids = [];
      for (const u of lsps) {
        ids.push(
          Number(
            (await nbctl('get', 'Logical_Switch_Port', u, 'external_ids:syncord-id')).replace(
              /"/g,
              '',
            ),
          ),
        );
      }
      expect(
        ids.sort((x, y) => x - y),
        'switch ports: one per live Port, no more',
      ).to.deep.equal(live.map((p) => p.id).sort((x, y) => x - y));
      for (const p of live) {
        const now = await svc.get('Port', p.id);
        const name = `syncord-${instance}-port-${String(p.id)}`;
        expect(await nbctl('lsp-get-addresses', name)).to.equal(
          `${now.mac as string} ${now.ip as string}`,
        );
      }
      expect(await find('Logical_Router')).to.have.length(1);
      expect(log.join('\n')).to.match(/reconnected to the northbound database/);
    });
  });

  describe('the VTN server stopped, edited under, and restarted on its state', () => {
    let dir: string | undefined;
    let vtn: VtnProcess | undefined;
    let run: Run | undefined;
    let client: VtnClient | undefined;
    const log: string[] = [];

    after(async function () {
      this.timeout(60_000);
      await stopRecorders();
      await run?.engine.stop();
      client?.close();
      await vtn?.stop('SIGKILL');
      await run?.db.drop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });
    afterEach(function () {
      if (this.currentTest?.state === 'failed') console.log(log.slice(-60).join('\n'));
    });

    it(`fault: VTN server stopped for ${OUTAGE} and restarted on its state; edits made meanwhile land, nothing duplicated or leaked`, async () => {
      dir = await mkdtemp(join(tmpdir(), 'syncord-fault-vtn-'));
      const state = join(dir, 'state.json');
      vtn = await spawnVtn({ state });
      const address = vtn.address;
      const instance = uniqueName('fault-vtn');
      const set = vtnStepSet({
        address,
        instance,
        sweepMs: 60 * 60_000,
        client: { deadlineMs: 3000 },
        log: (l) => log.push(`${new Date().toISOString()} ${l}`),
      });
      run = await startEngine(set.steps, log);
      const { svc } = run;
      client = new VtnClient(address, { deadlineMs: 3000 });
      const vc = client;

      const { si, networks, ports } = await topology(svc, instance, [
        { subnet: '10.63.0.0/24', segment_id: 6301 },
        { subnet: '10.64.0.0/24', segment_id: 6401 },
      ]);
      const [, b] = networks as [ModelObject, ModelObject];
      for (const n of networks) await syncedNow(svc, 'Network', n.id, 30_000, log);
      for (const p of ports) await syncedNow(svc, 'Port', p.id, 30_000, log);
      expect(await vc.listPorts({ 'syncord-instance': instance })).to.have.length(ports.length);

      await vtn.stop('SIGTERM');
      const down = Date.now();
      const { added, removed, rec } = await editWhileDown(svc, 'VTN', down, {
        networks,
        ports,
        si,
        edited: b,
        edit: { type: 'FLAT' },
      });
      vtn = await spawnVtn({ state, listen: address });
      const up = Date.now();

      const live = [...ports.slice(1), added];
      for (const p of live) await syncedNow(svc, 'Port', p.id, 60_000, log);
      for (const n of networks) await syncedNow(svc, 'Network', n.id, 60_000, log);
      await reaped(svc, 'Port', removed.id, 60_000);
      console.log(
        `      (down ${String(up - down)} ms; converged ${String(Date.now() - up)} ms after the restart)`,
      );
      await rec.stop();
      const shown = expectOutageShown(rec, /VTN/);
      console.log(
        `      (status during the outage: ${shown.model} ${String(shown.id)}: ${shown.backend_status})`,
      );

      // VTN holds exactly the models' networks and ports, with the edits.
      const nets = await vc.listNetworks({ 'syncord-instance': instance });
      expect(nets.map((n) => n.id).sort()).to.deep.equal(
        networks.map((n) => vtnNetworkId(instance, n.id)).sort(),
      );
      expect(nets.find((n) => n.id === vtnNetworkId(instance, b.id))?.type).to.equal('FLAT');
      const vports = await vc.listPorts({ 'syncord-instance': instance });
      expect(vports.map((p) => p.id).sort(), 'VTN ports: one per live Port, no more').to.deep.equal(
        live.map((p) => vtnPortId(instance, p.id)).sort(),
      );
      for (const p of live) {
        const now = await svc.get('Port', p.id);
        expect(vports.find((x) => x.id === vtnPortId(instance, p.id))).to.deep.include({
          network_id: vtnNetworkId(instance, now.network_id as number),
          mac_address: String(now.mac).toUpperCase(),
          ip_address: now.ip,
        });
      }
    });
  });
});
