// Adoption from OVN against the rig's northbound ovsdb-server, through the command line as an
// operator runs it (`syncord adopt`, a process) and the real OVN steps in an Engine: a switch and
// its ports made with ovn-nbctl are listed (with what each would become, and why a switch with
// DHCP options cannot be adopted as it is), adopted in one transaction (a process killed in the
// middle leaves nothing adopted; run again, everything), and then converge with no change to
// the rows but Syncord's external_ids. An address IPAM gives another port is refused with the
// holder named, and nothing is adopted.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import {
  OvsdbClient,
  asStringMap,
  comment,
  type Monitor,
  type Row,
} from '../../backends/ovn/ovsdb.js';
import { readHistory } from '../../models/history.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { ovnStepSet, type OvnSteps } from '../../steps/ovn/index.js';
import { Engine } from '../../synchronizer/engine.js';
import { startTestEngine } from '../support/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually, rig, sleep, uniqueName, type RigEnv } from '../support/rig.js';

const exec = promisify(execFile);
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

describe('ovn: adoption of switches and switch ports made out of band', function () {
  this.timeout(180_000);
  let env: RigEnv;
  let db: ScratchDb;
  let svc: ModelService;
  let set: OvnSteps;
  let engine: Engine | undefined;
  let instance: string;
  let nb: OvsdbClient;
  let watch: Monitor;
  const log: string[] = [];
  /** Every change of a row, by uuid: the columns that changed. */
  const changes = new Map<string, string[][]>();
  const run = `a${String(process.pid)}`;
  const names = {
    ls: `${run}-ls`,
    dhcpLs: `${run}-dhcp-ls`,
    p1: `${run}-p1`,
    p2: `${run}-p2`,
    taken: `${run}-taken`,
  };
  const base = `10.${String(100 + (process.pid % 100))}.${String(process.pid % 250)}`;
  const at = (host: number) => `${base}.${String(host)}`;
  let si: ModelObject;

  const nbctl = async (...args: string[]) =>
    (await exec('ovn-nbctl', [`--db=${env.OVN_NB_DB}`, ...args])).stdout.trim();

  /** `syncord adopt ...` as a process, as the operator runs it. */
  const adopt = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Ran> =>
    new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'cli/syncord.ts', 'adopt', ...args],
        {
          env: {
            ...process.env,
            DATABASE_URL: db.url,
            OVN_NB_DB: env.OVN_NB_DB,
            SYNCORD_INSTANCE: instance,
            SYNCORD_VTN_ADDRESS: '',
            ...extraEnv,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        resolve({ code, signal, stdout, stderr });
      });
    });

  const adoptedRows = async () =>
    (
      await db.sql.query<{ model: string; n: string }>(
        `SELECT 'Network' AS model, count(*) AS n FROM network WHERE backend_handle IS NOT NULL
         UNION ALL SELECT 'Port', count(*) FROM port WHERE backend_handle IS NOT NULL`,
      )
    ).rows.map((r) => `${r.model} ${r.n}`);

  const row = (table: string, name: string): Row => {
    const rows = watch.rows(table).filter((r) => r.name === name);
    expect(rows, `${table} ${name}`).to.have.length(1);
    return rows[0]!;
  };

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    db = await scratchDb();
    svc = db.service;
    instance = uniqueName('ovnadopt');
    nb = await OvsdbClient.connect(env.OVN_NB_DB, { database: 'OVN_Northbound' });
    watch = await nb.monitor({ Logical_Switch: undefined, Logical_Switch_Port: undefined });
    watch.on('change', (change) => {
      if (change.kind !== 'modify') return;
      const columns = Object.keys({ ...change.old, ...change.new }).filter(
        (c) => JSON.stringify(change.old?.[c]) !== JSON.stringify(change.new?.[c]),
      );
      const list = changes.get(change.uuid) ?? [];
      list.push(columns.sort());
      changes.set(change.uuid, list);
    });
    // What an operator made by hand, shaped as Syncord would have made it.
    const mac = (n: number) =>
      `0a:00:00:${(process.pid % 256).toString(16).padStart(2, '0')}:00:${n.toString(16).padStart(2, '0')}`;
    await nbctl(
      'ls-add',
      names.ls,
      '--',
      'set',
      'Logical_Switch',
      names.ls,
      `other_config:subnet=${base}.0/24`,
      `other_config:exclude_ips=${at(1)}`,
      'external_ids:team=red',
    );
    for (const [name, host] of [
      [names.p1, 5],
      [names.p2, 6],
    ] as const) {
      const address = `${mac(host)} ${at(host)}`;
      await nbctl(
        'lsp-add',
        names.ls,
        name,
        '--',
        'lsp-set-addresses',
        name,
        address,
        '--',
        'lsp-set-port-security',
        name,
        address,
      );
    }
    // A switch with DHCP options: listed, with why it cannot be adopted as it is.
    await nbctl(
      'ls-add',
      names.dhcpLs,
      '--',
      'set',
      'Logical_Switch',
      names.dhcpLs,
      `other_config:subnet=${base.replace(/\.\d+$/, '.251')}.0/24`,
      `other_config:exclude_ips=${base.replace(/\.\d+$/, '.251')}.1`,
    );
    await nbctl('dhcp-options-create', `${base.replace(/\.\d+$/, '.251')}.0/24`);
    const service = await svc.create('Service', { name: `${run}-svc` });
    si = await svc.create('ServiceInstance', { name: `${run}-si`, owner_id: service.id });
    set = ovnStepSet({ nbEndpoint: env.OVN_NB_DB, instance, log: (line) => log.push(line) });
    // From here on, every change of the rows is Syncord's (or the test's, said so).
    await nb.transact([comment('adopt test: set up')]);
    await sleep(300);
    changes.clear();
  });

  after(async function () {
    this.timeout(60_000);
    await engine?.stop();
    await nbctl('--if-exists', 'ls-del', names.ls).catch(() => undefined);
    await nbctl('--if-exists', 'ls-del', names.dhcpLs).catch(() => undefined);
    for (const uuid of (
      await nbctl(
        '--bare',
        '--columns=_uuid',
        'find',
        'DHCP_Options',
        `cidr="${base.replace(/\.\d+$/, '.251')}.0/24"`,
      )
    )
      .split(/\s+/)
      .filter(Boolean)) {
      await nbctl('dhcp-options-del', uuid).catch(() => undefined);
    }
    nb.close();
    await db.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(log.join('\n'));
  });

  it('lists the switch and its ports with the models they would become, and writes nothing', async () => {
    const listed = await adopt(['--backend', 'ovn', '--instance', si.name as string]);
    expect(listed.stderr).to.equal('');
    expect(listed.code).to.equal(0);
    const lines = listed.stdout.split('\n');
    const line = (key: string) => lines.find((l) => l.startsWith(`${key} `)) ?? '';
    expect(line(`ovn/Logical_Switch/${names.ls}`)).to.match(
      new RegExp(`Network ${names.ls}\\s+${base}\\.0/24, 2 ports$`),
    );
    expect(line(`ovn/Logical_Switch_Port/${names.p1}`)).to.match(
      new RegExp(`Port ${names.p1}\\s+".* ${at(5)}" on ${names.ls}$`),
    );
    expect(line(`ovn/Logical_Switch/${names.dhcpLs}`)).to.include('cannot adopt: DHCP_Options for');
    expect(listed.stdout).to.match(/run again with --yes/);
    // As JSON, with the values each model would get.
    const json = await adopt(['--backend', 'ovn', '--instance', si.name as string, '-o', 'json']);
    const candidates = JSON.parse(json.stdout) as {
      key: string;
      values: Record<string, unknown>;
    }[];
    expect(
      candidates.find((c) => c.key === `ovn/Logical_Switch/${names.ls}`)?.values,
    ).to.deep.equal({
      name: names.ls,
      provider: 'ovn',
      type: 'FLAT',
      dhcp: false,
      subnet: `${base}.0/24`,
      gateway: at(1),
    });
    // Without the instance, a port says what it lacks.
    const alone = await adopt(['--backend', 'ovn']);
    expect(alone.stdout).to.include('its instance is unknown');
    await nb.transact([comment('adopt test: caught up')]);
    await sleep(200);
    expect(changes.get(row('Logical_Switch', names.ls)._uuid as string)).to.equal(undefined);
    expect(await adoptedRows()).to.deep.equal(['Network 0', 'Port 0']);
  });

  it('refuses a port whose address IPAM gives another port, naming the holder; nothing adopted', async () => {
    // A Network of Syncord's, its switch marked as this deployment's, an address held on it.
    const heldBase = base.replace(/\.\d+$/, '.252');
    const net = await svc.create('Network', { name: `${run}-held`, subnet: `${heldBase}.0/24` });
    const holder = await svc.create('Port', {
      name: names.taken,
      network_id: net.id,
      service_instance_id: si.id,
      ip: `${heldBase}.9`,
    });
    const ls = `${run}-held-ls`;
    await nbctl(
      'ls-add',
      ls,
      '--',
      'set',
      'Logical_Switch',
      ls,
      `other_config:subnet=${heldBase}.0/24`,
      `external_ids:syncord-instance=${instance}`,
      'external_ids:syncord-model=Network',
      `external_ids:syncord-id=${String(net.id)}`,
      'external_ids:syncord-role=switch',
    );
    // A switch port made by hand on it, with the held address.
    const address = `0a:00:00:fe:00:09 ${heldBase}.9`;
    await nbctl(
      'lsp-add',
      ls,
      `${run}-intruder`,
      '--',
      'lsp-set-addresses',
      `${run}-intruder`,
      address,
      '--',
      'lsp-set-port-security',
      `${run}-intruder`,
      address,
    );
    try {
      const key = `ovn/Logical_Switch_Port/${run}-intruder`;
      const listed = await adopt(['--backend', 'ovn', '--instance', si.name as string]);
      expect(listed.stdout).to.match(new RegExp(`^${key}\\s+Port ${run}-intruder`, 'm'));
      const refused = await adopt([
        '--backend',
        'ovn',
        '--instance',
        si.name as string,
        '--yes',
        key,
      ]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr.trim()).to.equal(
        `syncord: ${key}: as Port: ip: ${heldBase}.9 is held by Port ${String(holder.id)} (${names.taken} of ServiceInstance ${String(si.id)}) on Network ${run}-held`,
      );
      expect(await adoptedRows()).to.deep.equal(['Network 0', 'Port 0']);
      expect(
        asStringMap(row('Logical_Switch_Port', `${run}-intruder`).external_ids ?? {}),
      ).to.deep.equal({});
    } finally {
      await nbctl('--if-exists', 'ls-del', ls);
      await svc.delete('Port', holder.id);
      await svc.delete('Network', net.id);
    }
  });

  it('adopts in one transaction: killed in the middle, nothing; run again, everything', async () => {
    const keys = [
      `ovn/Logical_Switch/${names.ls}`,
      `ovn/Logical_Switch_Port/${names.p1}`,
      `ovn/Logical_Switch_Port/${names.p2}`,
    ];
    const args = ['--backend', 'ovn', '--instance', si.name as string, '--yes', ...keys];
    // Killed after the second model is made, its transaction open.
    const killed = await adopt(args, { SYNCORD_FAILPOINT: 'adopt-created:2' });
    expect(killed.signal).to.equal('SIGKILL');
    expect(await adoptedRows()).to.deep.equal(['Network 0', 'Port 0']);
    const done = await adopt(args);
    expect(done.stderr).to.equal('');
    expect(done.code).to.equal(0);
    expect(done.stdout).to.match(
      new RegExp(`adopted ovn/Logical_Switch/${names.ls} as Network \\d+ \\(${names.ls}\\)`),
    );
    expect(await adoptedRows()).to.deep.equal(['Network 1', 'Port 2']);
    const [network] = (await svc.list('Network', { filter: [{ field: 'name', value: names.ls }] }))
      .items;
    expect(network).to.include({ subnet: `${base}.0/24`, gateway: at(1), dhcp: false });
    expect(network!.backend_handle).to.deep.equal({ 'ovn/Logical_Switch': names.ls });
    const ports = (await svc.list('Port', { filter: [{ field: 'network', value: network!.id }] }))
      .items;
    expect(ports.map((p) => [p.name, p.ip, p.service_instance_id]).sort()).to.deep.equal([
      [names.p1, at(5), si.id],
      [names.p2, at(6), si.id],
    ]);
    // In IPAM, as static allocations.
    const held = await db.sql.query(
      `SELECT host(address) AS address, static FROM syncord_ipam_address WHERE network_id = $1 ORDER BY address`,
      [network!.id],
    );
    expect(held.rows).to.deep.equal([
      { address: at(5), static: true },
      { address: at(6), static: true },
    ]);
    // Adopted already: not listed again, and refused by key.
    const again = await adopt([
      '--backend',
      'ovn',
      '--instance',
      si.name as string,
      '--yes',
      keys[0]!,
    ]);
    expect(again.code).to.equal(1);
    expect(again.stderr.trim()).to.equal(
      `syncord: ${keys[0]!}: adopted already as Network ${String(network!.id)}`,
    );
  });

  it('converges with no change to the rows but Syncord external_ids', async () => {
    const before = {
      ls: { ...row('Logical_Switch', names.ls) },
      p1: { ...row('Logical_Switch_Port', names.p1) },
      p2: { ...row('Logical_Switch_Port', names.p2) },
    };
    engine = await startTestEngine(db, set.steps, log, { backoff: { baseMs: 300, maxMs: 2000 } });
    const [network] = (await svc.list('Network', { filter: [{ field: 'name', value: names.ls }] }))
      .items;
    const ports = (await svc.list('Port', { filter: [{ field: 'network', value: network!.id }] }))
      .items;
    for (const o of [network!, ...ports]) {
      await eventually(`${o.leaf_model} ${String(o.id)} synced`, async () => {
        const x = await svc.get(o.leaf_model, o.id);
        if (x.backend_code === 2) throw new Error(String(x.backend_status));
        return x.backend_code === 1 && x.synced_version === x.version ? x : undefined;
      });
    }
    // Its first sync put the marks on (a later one found everything in place).
    const history = await readHistory(db.sql, db.registry, 'Network', network!.id);
    expect(
      history.map((h) => h.backend_status),
      JSON.stringify(history),
    ).to.include(
      `adopted: marked Logical_Switch ${names.ls}; logical switch ${names.ls} is in place (${base}.0/24, excluding ${at(1)})`,
    );
    await engine.resync();
    await eventually('idle', () => Promise.resolve(engine!.idle() || undefined));
    await nb.transact([comment('adopt test: caught up')]);
    await sleep(300);
    for (const [key, was] of Object.entries(before)) {
      const uuid = was._uuid as string;
      // Only external_ids changed (ovn-northd may set a port's `up`).
      const seen = (changes.get(uuid) ?? []).map((c) => c.filter((col) => col !== 'up'));
      expect(
        seen.filter((c) => c.length && c.join() !== 'external_ids'),
        key,
      ).to.deep.equal([]);
      const nowRow = watch
        .rows(key === 'ls' ? 'Logical_Switch' : 'Logical_Switch_Port')
        .find((r) => r._uuid === uuid)!;
      const rest = (r: Row) =>
        Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'external_ids' && k !== 'up'));
      const [beforeIds, nowIds] = [was.external_ids, nowRow.external_ids];
      const [beforeRest, nowRest] = [rest(was), rest(nowRow)];
      expect(nowRest, key).to.deep.equal(beforeRest);
      const added = Object.fromEntries(
        Object.entries(asStringMap(nowIds ?? {})).filter(
          ([k, v]) => asStringMap(beforeIds ?? {})[k] !== v,
        ),
      );
      expect(
        Object.keys(added).every((k) => k.startsWith('syncord-')),
        key,
      ).to.equal(true);
      expect(added['syncord-instance'], key).to.equal(instance);
    }
    // The operator's own key is still there.
    expect(asStringMap(row('Logical_Switch', names.ls).external_ids ?? {}).team).to.equal('red');
  });
});
