// The OVN steps under the management and deletion policies, against the rig's northbound
// ovsdb-server (and ovn-northd): the real steps in a real Engine on a scratch database.
// - observe: rows made out of band with ovn-nbctl are read into the status and followed when
//   edited; a monitor of every column of them records each change, and the only changes are
//   the test's own (Syncord writes nothing, not even once); deleting the model leaves them.
// - orphan: rows Syncord made lose its external_ids and nothing else, and no later sweep,
//   resync or teardown of another network removes or changes them.
// - create-only: made once; a later edit of the model is not applied.
// The steps run as a deployment of their own (`external_ids:syncord-instance`); what the tests
// made or let go of is removed at the end.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  OvsdbClient,
  asStringMap,
  asStringSet,
  comment,
  del,
  type Monitor,
  type Row,
} from '../../backends/ovn/ovsdb.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { networkMac } from '../../steps/ovn/names.js';
import { ovnStepSet, type OvnSteps } from '../../steps/ovn/index.js';
import { Engine } from '../../synchronizer/engine.js';
import { startTestEngine } from '../support/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { synced } from '../support/synced.js';
import { eventually, rig, sleep, uniqueName, type RigEnv } from '../support/rig.js';

const exec = promisify(execFile);
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

const OBSERVE_MS = 500;

/** The tables the steps write, watched with every column. */
const TABLES = [
  'Logical_Switch',
  'Logical_Switch_Port',
  'Logical_Router',
  'Logical_Router_Port',
  'DHCP_Options',
  'Gateway_Chassis',
] as const;
type Table = (typeof TABLES)[number];

/** A /24 no other test on the rig uses: 10.(100..199).(0..249).0/24. */
function freshSubnet(): { cidr: string; at: (host: number) => string } {
  const base = `10.${String(100 + Math.floor(Math.random() * 100))}.${String(Math.floor(Math.random() * 250))}`;
  return { cidr: `${base}.0/24`, at: (host) => `${base}.${String(host)}` };
}

/** A row's external_ids without Syncord's keys. */
const unmarked = (row: Row): Record<string, string> =>
  Object.fromEntries(
    Object.entries(asStringMap(row.external_ids ?? {})).filter(([k]) => !k.startsWith('syncord-')),
  );

describe('ovn: observe, orphan and create-only against the rig', function () {
  this.timeout(120_000);
  let env: RigEnv;
  let db: ScratchDb;
  let svc: ModelService;
  let set: OvnSteps;
  let engine: Engine;
  let instance: string;
  const log: string[] = [];
  /** Our own client: a monitor of every column of the steps' tables, and the clean-up. */
  let nb: OvsdbClient;
  let watch: Monitor;
  /** Every change of a row, by uuid: the columns that changed. */
  const changes = new Map<string, string[][]>();
  /** The changes of these rows (the database is shared: other rows change meanwhile). */
  const changesOf = (uuids: string[], ignore: string[] = []) =>
    Object.fromEntries(
      uuids
        .map((u) => [u, (changes.get(u) ?? []).filter((c) => c.join() !== ignore.join())] as const)
        .filter(([, list]) => list.length),
    );
  /** Rows left in the database by the tests (unmarked ones are not found by deployment). */
  const leftovers: { table: Table; uuid: string }[] = [];

  const nbctl = async (...args: string[]) =>
    (await exec('ovn-nbctl', [`--db=${env.OVN_NB_DB}`, ...args])).stdout.trim();

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    db = await scratchDb();
    svc = db.service;
    instance = uniqueName('ovnpol');
    nb = await OvsdbClient.connect(env.OVN_NB_DB, { database: 'OVN_Northbound' });
    watch = await nb.monitor(Object.fromEntries(TABLES.map((t) => [t, undefined])));
    watch.on('change', (change) => {
      if (change.kind !== 'modify') return;
      const columns = Object.keys({ ...change.old, ...change.new }).filter(
        (c) => JSON.stringify(change.old?.[c]) !== JSON.stringify(change.new?.[c]),
      );
      const list = changes.get(change.uuid) ?? [];
      list.push(columns.sort());
      changes.set(change.uuid, list);
    });
    set = ovnStepSet({
      nbEndpoint: env.OVN_NB_DB,
      instance,
      gatewayChassis: [uniqueName('gw')],
      log: (line) => log.push(line),
    });
    engine = await startTestEngine(db, set.steps, log, {
      observeMs: OBSERVE_MS,
      backoff: { baseMs: 300, maxMs: 2000 },
    });
  });

  after(async function () {
    this.timeout(60_000);
    await engine.stop();
    const where = [['external_ids', 'includes', { 'syncord-instance': instance }]] as const;
    await nb.transact([
      ...leftovers
        .filter((r) => ['Logical_Switch', 'Logical_Router', 'DHCP_Options'].includes(r.table))
        .map((r) => del(r.table, [['_uuid', '==', r.uuid]])),
      del('Logical_Switch', where),
      del('Logical_Router', where),
      del('DHCP_Options', where),
    ]);
    nb.close();
    await db.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(log.join('\n'));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  /** A row of our monitor's replica, found by table and name (there must be one). */
  const byName = (table: Table, name: string): Row => {
    const rows = watch.rows(table).filter((r) => r.name === name);
    expect(rows, `${table} ${name}`).to.have.length(1);
    return rows[0]!;
  };
  const waitRow = (table: Table, name: string) =>
    eventually(`${table} ${name} in the replica`, () =>
      Promise.resolve(watch.rows(table).find((r) => r.name === name)),
    );
  /** The row as it is now (a copy: the replica's rows are replaced, not edited). */
  const now = (table: Table, uuid: string): Row | undefined => {
    const row = watch.get(table, uuid);
    return row && { ...row };
  };
  /** Our monitor has every change made so far (a no-op write round-trips after them). */
  const caughtUp = async () => {
    await nb.transact([comment('policies test: caught up')]);
    await sleep(200);
  };

  /** Until ovn-northd has set the switch ports' `up` (it does once, for a port not bound). */
  const northdUp = (...uuids: string[]) =>
    eventually('ovn-northd to set up', () =>
      Promise.resolve(
        uuids.every((u) => typeof watch.get('Logical_Switch_Port', u)?.up === 'boolean') ||
          undefined,
      ),
    );

  const status = (model: string, id: number, what: string, test: (o: ModelObject) => boolean) =>
    eventually(`${model} ${String(id)} ${what}`, async () => {
      const o = await svc.get(model, id, { includeDeleted: true });
      return test(o) ? o : undefined;
    }).catch(async (err: unknown) => {
      const o = await svc.get(model, id, { includeDeleted: true }).catch(() => undefined);
      throw new Error(
        `${(err as Error).message}; it is at ${String(o?.backend_code)}: ${String(o?.backend_status)}`,
      );
    });
  const reaped = (model: string, id: number) =>
    eventually(`${model} ${String(id)} reaped`, async () => {
      const r = await db.sql.query(`SELECT 1 FROM ${db.registry.get(model).table} WHERE id = $1`, [
        id,
      ]);
      return r.rowCount === 0 ? true : undefined;
    });
  const observeRuns = (step: string) => engine.stepStats.get(step)?.runs ?? 0;
  /** Waits for at least `n` more runs of a step (observe reads every OBSERVE_MS). */
  const moreRuns = async (step: string, n: number) => {
    const from = observeRuns(step);
    await eventually(`${String(n)} more runs of ${step}`, () =>
      Promise.resolve(observeRuns(step) >= from + n || undefined),
    );
  };

  async function instanceFor(name: string): Promise<ModelObject> {
    const service = await svc.create('Service', { name: `${name}-svc` });
    return svc.create('ServiceInstance', { name: `${name}-si`, owner_id: service.id });
  }

  it('observe: a logical switch and DHCP options made out of band are read into status, followed, never written, and left when the model goes', async () => {
    const net = freshSubnet();
    const name = uniqueName('seen');
    const sw = `syncord-${name}`;
    await nbctl('ls-add', sw);
    await nbctl(
      'set',
      'Logical_Switch',
      sw,
      `other_config:subnet=${net.cidr}`,
      `other_config:exclude_ips=${net.at(1)}`,
      'external_ids:operator=alice',
    );
    const dhcpId = await nbctl(
      'create',
      'DHCP_Options',
      `cidr=${net.cidr}`,
      'options:lease_time=3600',
      `options:router=${net.at(1)}`,
      `options:server_id=${net.at(1)}`,
    );
    const ls = await waitRow('Logical_Switch', sw);
    leftovers.push(
      { table: 'Logical_Switch', uuid: ls._uuid as string },
      { table: 'DHCP_Options', uuid: dhcpId },
    );
    await eventually('the DHCP options in the replica', () =>
      Promise.resolve(watch.get('DHCP_Options', dhcpId)),
    );
    await caughtUp();
    const lsId = ls._uuid as string;
    const lsBefore = now('Logical_Switch', lsId)!;
    const dhcpBefore = now('DHCP_Options', dhcpId)!;
    changes.clear();

    const model = await svc.create('Network', {
      name,
      subnet: net.cidr,
      type: 'FLAT',
      management_policy: 'observe',
    });
    const mac = networkMac(instance, model.id);
    const seen = await status('Network', model.id, 'observed', (o) => o.backend_code === 1);
    expect(seen.backend_status).to.equal(
      `observed: Logical_Switch ${sw}: subnet ${net.cidr}, excluded ${net.at(1)}, 0 ports, DHCP ${net.cidr}; ` +
        `differs from the model: DHCP server_mac unset (model ${mac})`,
    );
    expect(seen.synced_version).to.equal(0);

    // Edited out of band: read again, without any edit of the model.
    const moved = freshSubnet();
    await nbctl('set', 'Logical_Switch', sw, `other_config:subnet=${moved.cidr}`);
    await status('Network', model.id, 'showing the new subnet', (o) =>
      String(o.backend_status).startsWith(
        `observed: Logical_Switch ${sw}: subnet ${moved.cidr}, excluded ${net.at(1)}, 0 ports, DHCP ${net.cidr}; ` +
          `differs from the model: subnet ${moved.cidr} (model ${net.cidr}), DHCP server_mac unset (model ${mac})`,
      ),
    );
    await moreRuns('ovn/network', 4);
    await caughtUp();
    // Our edit is the only change of either row; every other column is as it was made.
    expect(changes.get(lsId)).to.deep.equal([['other_config']]);
    expect(changes.get(dhcpId)).to.equal(undefined);
    const lsAfterEdit = now('Logical_Switch', lsId)!;
    expect({ ...lsAfterEdit, other_config: lsBefore.other_config }).to.deep.equal(lsBefore);
    expect(now('DHCP_Options', dhcpId)).to.deep.equal(dhcpBefore);

    // Deleting the model: reaped, and the rows stay exactly as they are.
    await svc.delete('Network', model.id);
    await reaped('Network', model.id);
    await sleep(3 * OBSERVE_MS);
    expect(await set.observer.sweep()).to.deep.equal([]);
    await caughtUp();
    expect(now('Logical_Switch', lsId)).to.deep.equal(lsAfterEdit);
    expect(now('DHCP_Options', dhcpId)).to.deep.equal(dhcpBefore);
    expect(changes.get(lsId)).to.deep.equal([['other_config']]);
    expect(changes.get(dhcpId)).to.equal(undefined);
  });

  it("observe: a missing switch or switch port is an error naming it; made out of band, a routed network's router port and a Port's addresses are observed and never written", async () => {
    const net = freshSubnet();
    // Every change of every row from here on is recorded: the test's own edits, one by one.
    changes.clear();
    const name = uniqueName('routed');
    const sw = `syncord-${name}`;
    const model = await svc.create('Network', {
      name,
      subnet: net.cidr,
      type: 'PRIVATE',
      dhcp: false,
      management_policy: 'observe',
    });
    const missing = await status('Network', model.id, 'in error', (o) => o.backend_code === 2);
    expect(missing.backend_status).to.equal(`error: observe: Logical_Switch ${sw} is not there`);
    expect(watch.rows('Logical_Switch').filter((r) => r.name === sw)).to.deep.equal([]);

    // The switch, a router of the operator's and the router port with the name Syncord uses.
    const router = uniqueName('op-router');
    const lrp = `syncord-${instance}-rtos-${String(model.id)}`;
    const stor = `syncord-${instance}-stor-${String(model.id)}`;
    await nbctl('ls-add', sw);
    await nbctl(
      'set',
      'Logical_Switch',
      sw,
      `other_config:subnet=${net.cidr}`,
      `other_config:exclude_ips=${net.at(1)}`,
    );
    await nbctl('lr-add', router);
    await nbctl('lrp-add', router, lrp, '0a:00:00:00:00:01', `${net.at(1)}/24`);
    await nbctl('lsp-add', sw, stor);
    await nbctl('lsp-set-type', stor, 'router');
    await nbctl('lsp-set-addresses', stor, 'router');
    await nbctl('lsp-set-options', stor, `router-port=${lrp}`);
    const lsId = (await waitRow('Logical_Switch', sw))._uuid as string;
    const lrId = (await waitRow('Logical_Router', router))._uuid as string;
    leftovers.push(
      { table: 'Logical_Switch', uuid: lsId },
      { table: 'Logical_Router', uuid: lrId },
    );
    const lrpId = (await waitRow('Logical_Router_Port', lrp))._uuid as string;
    const storId = (await waitRow('Logical_Switch_Port', stor))._uuid as string;
    // (Observed as it is made: the status follows each step, to this.)
    const seen = await status(
      'Network',
      model.id,
      'observed',
      (o) =>
        o.backend_status ===
        `observed: Logical_Switch ${sw}: subnet ${net.cidr}, excluded ${net.at(1)}, 1 port, router port ${lrp} ${net.at(1)}/24 on ${router}; ` +
          `differs from the model: router ${router} (model syncord-${instance}-router)`,
    );
    expect(seen.backend_code).to.equal(1);

    // A Port observed on it: missing first, then made out of band with its name.
    const si = await instanceFor(uniqueName('obs'));
    const address = `0a:58:00:00:00:07 ${net.at(7)}`;
    const port = await svc.create('Port', {
      network_id: model.id,
      service_instance_id: si.id,
      interface_name: 'net1',
      ip: net.at(7),
      mac: '0a:58:00:00:00:07',
      management_policy: 'observe',
    });
    const lsp = `syncord-${instance}-port-${String(port.id)}`;
    const noPort = await status('Port', port.id, 'in error', (o) => o.backend_code === 2);
    expect(noPort.backend_status).to.equal(
      `error: observe: Logical_Switch_Port ${lsp} is not there`,
    );
    await nbctl('lsp-add', sw, lsp);
    await nbctl('lsp-set-addresses', lsp, address);
    const lspId = (await waitRow('Logical_Switch_Port', lsp))._uuid as string;
    // ovn-northd reports the ports up or down: its writes, not Syncord's.
    await northdUp(lspId, storId);
    const observed = await status(
      'Port',
      port.id,
      'observed',
      (o) =>
        o.backend_status ===
        `observed: Logical_Switch_Port ${lsp} on ${sw}, addresses "${address}", down; ` +
          `differs from the model: port security none (model "${address}")`,
    );
    expect(observed.backend_code).to.equal(1);
    await caughtUp();
    const rows = () =>
      [
        now('Logical_Switch', lsId),
        now('Logical_Router', lrId),
        now('Logical_Router_Port', lrpId),
        now('Logical_Switch_Port', storId),
        now('Logical_Switch_Port', lspId),
      ] as const;
    const before = rows();

    const other = `0a:58:00:00:00:08 ${net.at(8)}`;
    await nbctl('lsp-set-addresses', lsp, other);
    await status('Port', port.id, 'showing the new addresses', (o) =>
      String(o.backend_status).includes(
        `addresses "${other}", down; differs from the model: addresses "${other}" (model "${address}")`,
      ),
    );
    await moreRuns('ovn/port', 4);
    await moreRuns('ovn/network', 2);
    await caughtUp();
    const watched = [lsId, lrId, lrpId, storId, lspId];
    // Each change is one of the test's ovn-nbctl commands (northd's `up` aside), in order.
    const edits = {
      [lsId]: [['other_config'], ['ports'], ['ports']],
      [lrId]: [['ports']],
      [storId]: [['type'], ['addresses'], ['options']],
      [lspId]: [['addresses'], ['addresses']],
    };
    expect(changesOf(watched, ['up'])).to.deep.equal(edits);
    const edited = rows();
    expect({ ...edited[4], addresses: before[4]!.addresses }).to.deep.equal(before[4]);
    expect(edited.slice(0, 4)).to.deep.equal(before.slice(0, 4));

    // The models go; the rows stay as they are, and no sweep takes them.
    await svc.delete('Port', port.id);
    await reaped('Port', port.id);
    await svc.delete('Network', model.id);
    await reaped('Network', model.id);
    await sleep(3 * OBSERVE_MS);
    expect(await set.observer.sweep()).to.deep.equal([]);
    await caughtUp();
    expect(rows()).to.deep.equal(edited);
    expect(changesOf(watched, ['up'])).to.deep.equal(edits);
  });

  it("orphan: the rows of a Port and of a PUBLIC Network lose Syncord's external_ids and nothing else; sweeps, resyncs and other networks' teardown leave them", async () => {
    const net = freshSubnet();
    const name = uniqueName('kept');
    const model = await svc.create('Network', { name, subnet: net.cidr, type: 'PUBLIC' });
    await synced(svc, 'Network', model.id, { log });
    const si = await instanceFor(uniqueName('kept'));
    const created = await svc.create('Port', {
      network_id: model.id,
      service_instance_id: si.id,
      interface_name: 'net1',
    });
    const port = await synced(svc, 'Port', created.id, { log });
    const sw = `syncord-${name}`;
    const lspName = `syncord-${instance}-port-${String(port.id)}`;
    const lrpName = `syncord-${instance}-rtos-${String(model.id)}`;
    const storName = `syncord-${instance}-stor-${String(model.id)}`;
    const routerName = `syncord-${instance}-router`;
    // An operator's own key on the switch and the port: it stays through the release.
    await nbctl('set', 'Logical_Switch', sw, 'external_ids:operator=keep');
    await nbctl('set', 'Logical_Switch_Port', lspName, 'external_ids:operator=keep');
    await eventually('the operator keys in the replica', () =>
      Promise.resolve(
        (unmarked(byName('Logical_Switch_Port', lspName)).operator === 'keep' &&
          unmarked(byName('Logical_Switch', sw)).operator === 'keep') ||
          undefined,
      ),
    );
    // The drift those edits reported is handled (the steps change nothing: the key is not theirs).
    await eventually('the engine idle', () => Promise.resolve(engine.idle() || undefined));
    await set.observer.settled();
    await caughtUp();

    const id = (table: Table, name: string) => byName(table, name)._uuid as string;
    const ls = id('Logical_Switch', sw);
    const lsp = id('Logical_Switch_Port', lspName);
    const lrp = id('Logical_Router_Port', lrpName);
    const stor = id('Logical_Switch_Port', storName);
    await northdUp(lsp, stor);
    await caughtUp();
    const router = id('Logical_Router', routerName);
    const dhcp = watch
      .rows('DHCP_Options')
      .find((r) => r.cidr === net.cidr && asStringMap(r.external_ids ?? {})['syncord-instance'])!;
    const gatewayChassis = asStringSet(watch.get('Logical_Router_Port', lrp)!.gateway_chassis);
    expect(gatewayChassis).to.have.length(1);
    const released: [Table, string][] = [
      ['Logical_Switch_Port', lsp],
      ['Logical_Switch', ls],
      ['DHCP_Options', dhcp._uuid as string],
      ['Logical_Router_Port', lrp],
      ['Logical_Switch_Port', stor],
      ['Gateway_Chassis', gatewayChassis[0]!],
    ];
    leftovers.push(
      { table: 'Logical_Switch', uuid: ls },
      { table: 'DHCP_Options', uuid: dhcp._uuid as string },
    );
    const before = new Map(released.map(([t, u]) => [u, now(t, u)!]));
    for (const row of before.values()) {
      expect(asStringMap(row.external_ids ?? {})['syncord-instance']).to.equal(instance);
    }
    const routerBefore = now('Logical_Router', router)!;
    changes.clear();

    // The Port first (set by an update), then the Network (its Ports gone).
    await svc.update('Port', port.id, { deletion_policy: 'orphan' });
    await svc.delete('Port', port.id);
    await reaped('Port', port.id);
    await caughtUp();
    const lspAfter = now('Logical_Switch_Port', lsp)!;
    expect(lspAfter, 'the switch port is still there').to.not.equal(undefined);
    expect(asStringMap(lspAfter.external_ids ?? {})).to.deep.equal({ operator: 'keep' });
    expect({ ...lspAfter, external_ids: null }).to.deep.equal({
      ...before.get(lsp),
      external_ids: null,
    });
    expect(changes.get(lsp)).to.deep.equal([['external_ids']]);
    // Its switch is the Network's: still marked.
    expect(now('Logical_Switch', ls)).to.deep.equal(before.get(ls));

    await svc.update('Network', model.id, { deletion_policy: 'orphan' });
    await svc.delete('Network', model.id);
    await reaped('Network', model.id);
    await caughtUp();
    const check = (routerChanges: string[][] | undefined) => {
      for (const [table, uuid] of released) {
        const after = now(table, uuid);
        const was = before.get(uuid)!;
        const what = `${table} ${typeof was.name === 'string' ? was.name : uuid}`;
        expect(after, `${what} still there`).to.not.equal(undefined);
        expect(asStringMap(after!.external_ids ?? {}), `${what} external_ids`).to.deep.equal(
          unmarked(was),
        );
        expect({ ...after, external_ids: null }, what).to.deep.equal({
          ...was,
          external_ids: null,
        });
        expect(changes.get(uuid), `${what} changes`).to.deep.equal([['external_ids']]);
      }
      // The deployment's router is shared: still Syncord's, holding the released port.
      expect(now('Logical_Router', router)).to.deep.equal(routerBefore);
      expect(changes.get(router)).to.deep.equal(routerChanges);
    };
    check(undefined);

    // Afterwards: a sweep, a full resync, and another routed network made and torn down
    // (which would remove the router if the released port did not hold it).
    expect(await set.observer.sweep()).to.deep.equal([]);
    await engine.resync();
    await eventually('the resync done', () => Promise.resolve(engine.idle() || undefined));
    const passing = await svc.create('Network', {
      name: uniqueName('passing'),
      subnet: freshSubnet().cidr,
      type: 'PRIVATE',
    });
    await synced(svc, 'Network', passing.id, { log });
    await svc.delete('Network', passing.id);
    await reaped('Network', passing.id);
    await set.observer.settled();
    expect(await set.observer.sweep()).to.deep.equal([]);
    await caughtUp();
    // The router's ports changed twice (the passing network's port in and out), and are back.
    check([['ports'], ['ports']]);
  });

  it('create-only: a Network and a Port are made once; an edit is not applied, and drift is not repaired', async () => {
    const net = freshSubnet();
    const name = uniqueName('once');
    const model = await svc.create('Network', {
      name,
      subnet: net.cidr,
      type: 'FLAT',
      management_policy: 'create-only',
    });
    const made = await synced(svc, 'Network', model.id, { log });
    expect(made.backend_status).to.match(/^created logical switch /);
    const si = await instanceFor(uniqueName('once'));
    const created = await svc.create('Port', {
      network_id: model.id,
      service_instance_id: si.id,
      interface_name: 'net1',
      management_policy: 'create-only',
    });
    const port = await synced(svc, 'Port', created.id, { log });
    const sw = `syncord-${name}`;
    const lspName = `syncord-${instance}-port-${String(port.id)}`;
    leftovers.push({ table: 'Logical_Switch', uuid: byName('Logical_Switch', sw)._uuid as string });
    await caughtUp();
    const ls = byName('Logical_Switch', sw);
    const lsp = byName('Logical_Switch_Port', lspName);
    changes.clear();

    await svc.update('Network', model.id, { exclude_ips: `${net.at(50)}..${net.at(60)}` });
    await svc.update('Port', port.id, { ip: net.at(77) });
    for (const [model_, id] of [
      ['Network', model.id],
      ['Port', port.id],
    ] as const) {
      const kept = await status(model_, id, 'saying the edit is not applied', (o) =>
        /not applied/.test(String(o.backend_status)),
      );
      expect(kept).to.include({
        backend_code: 1,
        synced_version: 1,
        version: 2,
        backend_status: 'create-only: created at version 1; version 2 is not applied',
      });
    }
    await sleep(1000);
    await caughtUp();
    expect(now('Logical_Switch', ls._uuid as string)).to.deep.equal(ls);
    expect(now('Logical_Switch_Port', lsp._uuid as string)).to.deep.equal(lsp);
    const watched = [ls._uuid as string, lsp._uuid as string];
    expect(changesOf(watched)).to.deep.equal({});

    // Drift: the observer reports it, and nothing puts it back.
    await nbctl('set', 'Logical_Switch', sw, `other_config:subnet=${freshSubnet().cidr}`);
    await sleep(1000);
    await set.observer.settled();
    await eventually('the engine idle', () => Promise.resolve(engine.idle() || undefined));
    await caughtUp();
    expect(changesOf(watched)).to.deep.equal({ [ls._uuid as string]: [['other_config']] });

    // deletion_policy delete: torn down as usual.
    await svc.delete('Port', port.id);
    await reaped('Port', port.id);
    await svc.delete('Network', model.id);
    await reaped('Network', model.id);
    await caughtUp();
    expect(watch.get('Logical_Switch', ls._uuid as string)).to.equal(undefined);
    expect(watch.get('Logical_Switch_Port', lsp._uuid as string)).to.equal(undefined);
  });
});
