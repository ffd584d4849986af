// The OVN steps end to end: models in a scratch database, the engine running ovnSteps(), the
// rig's OVN northbound and southbound ovsdb-servers with ovn-northd. What Syncord wrote is read
// back with ovn-nbctl and ovn-sbctl (clients nobody here wrote), and northd's Datapath_Binding and
// Port_Binding rows are looked for in the southbound database. The steps run as a deployment of
// their own (`external_ids:syncord-instance`), so other runs on the same rig are neither seen nor
// touched; everything of this deployment's is removed at the end. A second part runs the steps
// against a private ovsdb-server that is killed and comes back empty under them.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { OvsdbClient, del, select } from '../../backends/ovn/ovsdb.js';
import { ValidationError } from '../../models/errors.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { cniConfig, networksAnnotation, type Attachment } from '../../steps/kubernetes/networks.js';
import { ovnStepSet, type OvnSteps } from '../../steps/ovn/index.js';
import { Engine } from '../../synchronizer/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { synced as syncedObject } from '../support/synced.js';
import { eventually, rig, sleep, uniqueName, type RigEnv } from '../support/rig.js';
import { PrivateOvsdb } from './private-ovsdb.js';

const exec = promisify(execFile);
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

async function ctl(tool: 'ovn-nbctl' | 'ovn-sbctl', db: string, ...args: string[]) {
  const { stdout } = await exec(tool, [`--db=${db}`, ...args]);
  return stdout.trim();
}

/** Removes every row a deployment left in a northbound database (roots; the rest goes with them). */
async function purgeInstance(endpoint: string, instance: string): Promise<void> {
  const nb = await OvsdbClient.connect(endpoint, { database: 'OVN_Northbound', reconnect: false });
  try {
    const where = [['external_ids', 'includes', { 'syncord-instance': instance }]] as const;
    await nb.transact([
      del('Logical_Switch', where),
      del('Logical_Router', where),
      del('DHCP_Options', where),
    ]);
  } finally {
    nb.close();
  }
}

/** The rows of a table that belong to a deployment, read with our client (for counting). */
async function rowsOf(endpoint: string, table: string, keys: Record<string, string>) {
  const nb = await OvsdbClient.connect(endpoint, { database: 'OVN_Northbound', reconnect: false });
  try {
    const [r] = await nb.transact([select(table, [['external_ids', 'includes', keys]])]);
    return r.rows;
  } finally {
    nb.close();
  }
}

/** ovn-nbctl's `--bare` lists: one value per line. */
const lines = (text: string) => text.split('\n').filter(Boolean);

interface Harness {
  db: ScratchDb;
  svc: ModelService;
  set: OvnSteps;
  engine: Engine;
  instance: string;
  log: string[];
}

async function harness(options: {
  nbEndpoint: string;
  sbEndpoint?: string;
  gatewayChassis?: string[];
}): Promise<Harness> {
  const db = await scratchDb();
  const instance = uniqueName('ovn');
  const log: string[] = [];
  const set = ovnStepSet({ ...options, instance, log: (line) => log.push(line) });
  const engine = new Engine(db.registry, db.service, set.steps, {
    url: db.url,
    workers: 4,
    resyncMs: 60 * 60_000,
    backoff: { baseMs: 300, maxMs: 2000 },
    log: (line) => log.push(line),
  });
  await engine.start();
  return { db, svc: db.service, set, engine, instance, log };
}

const synced = (h: Harness, model: string, id: number, timeoutMs = 30_000) =>
  syncedObject(h.svc, model, id, { timeoutMs });

const gone = (h: Harness, model: string, id: number) =>
  eventually(`${model} ${String(id)} reaped`, async () => {
    try {
      await h.svc.get(model, id, { includeDeleted: true });
      return undefined;
    } catch {
      return true;
    }
  });

/** A service instance to hang ports on (a plain one: no backend step of its own). */
async function instanceFor(svc: ModelService, name: string): Promise<ModelObject> {
  const service = await svc.create('Service', { name: `${name}-svc` });
  return svc.create('ServiceInstance', { name: `${name}-si`, owner_id: service.id });
}

describe('ovn: the steps against the rig (northbound, southbound, ovn-northd)', function () {
  this.timeout(120_000);
  let env: RigEnv;
  let h: Harness;
  let nbctl: (...args: string[]) => Promise<string>;
  let sbctl: (...args: string[]) => Promise<string>;
  let chassis: string;

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    nbctl = (...args) => ctl('ovn-nbctl', env.OVN_NB_DB, ...args);
    sbctl = (...args) => ctl('ovn-sbctl', env.OVN_SB_DB, ...args);
    chassis = uniqueName('chassis');
    // A chassis as ovn-controller would register it (there is no hypervisor on the rig).
    const ip = `127.${String(1 + Math.floor(Math.random() * 250))}.${String(Math.floor(Math.random() * 250))}.${String(1 + Math.floor(Math.random() * 250))}`;
    await sbctl('chassis-add', chassis, 'geneve', ip);
    h = await harness({
      nbEndpoint: env.OVN_NB_DB,
      sbEndpoint: env.OVN_SB_DB,
      gatewayChassis: [chassis],
    });
  });

  after(async function () {
    this.timeout(60_000);
    await h.engine.stop();
    await purgeInstance(env.OVN_NB_DB, h.instance);
    await sbctl('--if-exists', 'chassis-del', chassis).catch(() => undefined);
    await h.db.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(h.log.join('\n'));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(h.log.slice(-40).join('\n'));
  });

  const mine = (model: string, id: number, role: string) => [
    `external_ids:syncord-instance=${h.instance}`,
    `external_ids:syncord-model=${model}`,
    `external_ids:syncord-id=${String(id)}`,
    `external_ids:syncord-role=${role}`,
  ];
  /** The uuids of the rows of a table an owner has, as ovn-nbctl finds them. */
  const find = async (table: string, model: string, id: number, role: string) =>
    lines(await nbctl('--bare', '--columns=_uuid', 'find', table, ...mine(model, id, role)));
  const one = async (table: string, model: string, id: number, role: string) => {
    const rows = await find(table, model, id, role);
    expect(rows, `${table} rows of ${model} ${String(id)} (${role})`).to.have.length(1);
    return rows[0]!;
  };
  /** A column's value as ovn-nbctl prints it, a string's quotes taken off. */
  const get = async (table: string, record: string, column: string) =>
    (await nbctl('get', table, record, column)).replace(/^"(.*)"$/, '$1');

  async function network(values: Record<string, unknown>): Promise<ModelObject> {
    const n = await h.svc.create('Network', { name: uniqueName('net'), ...values });
    return synced(h, 'Network', n.id);
  }

  async function port(net: ModelObject, values: Record<string, unknown> = {}) {
    const si = await instanceFor(h.svc, uniqueName('si'));
    const p = await h.svc.create('Port', {
      network_id: net.id,
      service_instance_id: si.id,
      interface_name: 'net1',
      ...values,
    });
    return synced(h, 'Port', p.id);
  }

  const lspName = (p: ModelObject) => `syncord-${h.instance}-port-${String(p.id)}`;

  it('makes a Network a logical switch with its plan, DHCP and a router port; northd binds it', async () => {
    const t0 = Date.now();
    const net = await network({
      subnet: '10.81.0.0/24',
      exclude_ips: '10.81.0.10..10.81.0.20 10.81.0.30',
      dns_servers: '8.8.8.8 1.1.1.1',
      mtu: 1400,
    });
    const ms = Date.now() - t0;
    const ls = await one('Logical_Switch', 'Network', net.id, 'switch');
    expect(await get('Logical_Switch', ls, 'name')).to.equal(`syncord-${net.name as string}`);
    expect(await get('Logical_Switch', ls, 'other_config:subnet')).to.equal('10.81.0.0/24');
    expect(await get('Logical_Switch', ls, 'other_config:exclude_ips')).to.equal(
      '10.81.0.1 10.81.0.10..10.81.0.20 10.81.0.30',
    );
    // DHCP: server and router the gateway, lease time, DNS and MTU as the model asks.
    const dhcp = await one('DHCP_Options', 'Network', net.id, 'dhcp');
    expect(await get('DHCP_Options', dhcp, 'cidr')).to.equal('10.81.0.0/24');
    const options = lines(await nbctl('dhcp-options-get-options', dhcp));
    expect(options).to.include.members([
      'router=10.81.0.1',
      'server_id=10.81.0.1',
      'lease_time=3600',
      'dns_server={8.8.8.8, 1.1.1.1}',
      'mtu=1400',
    ]);
    // Routed (PRIVATE): a port on the deployment's router with the gateway, and its peer.
    const router = `syncord-${h.instance}-router`;
    const lrp = `syncord-${h.instance}-rtos-${String(net.id)}`;
    expect(
      lines(await nbctl('--bare', '--columns=name', 'find', 'Logical_Router', `name=${router}`)),
    ).to.deep.equal([router]);
    expect(await nbctl('lrp-list', router)).to.include(lrp);
    expect(await get('Logical_Router_Port', lrp, 'networks')).to.equal('["10.81.0.1/24"]');
    const mac = await get('Logical_Router_Port', lrp, 'mac');
    expect(options).to.include(`server_mac=${mac}`);
    const stor = `syncord-${h.instance}-stor-${String(net.id)}`;
    expect(await nbctl('lsp-get-type', stor)).to.equal('router');
    expect(await nbctl('lsp-get-options', stor)).to.equal(`router-port=${lrp}`);
    expect(await nbctl('lsp-get-ls', stor)).to.include(`syncord-${net.name as string}`);
    expect(net.backend_status).to.match(/^created logical switch syncord-.* created router port/);
    // ovn-northd turns them into southbound datapaths and port bindings.
    await eventually(
      'a Datapath_Binding for the switch',
      async () =>
        (await sbctl(
          '--bare',
          '--columns=_uuid',
          'find',
          'Datapath_Binding',
          `external_ids:logical-switch=${ls}`,
        )) || undefined,
    );
    for (const name of [stor, lrp]) {
      await eventually(`a Port_Binding for ${name}`, async () =>
        (await sbctl(
          '--bare',
          '--columns=type',
          'find',
          'Port_Binding',
          `logical_port=${name}`,
        )) === 'patch'
          ? true
          : undefined,
      );
    }
    console.log(`      (model to logical switch, DHCP and router port: ${String(ms)} ms)`);
  });

  it("makes a Port a logical switch port with IPAM's address and port security; the pod asks for it by name", async () => {
    const net = await network({ subnet: '10.82.0.0/24' });
    const t0 = Date.now();
    const p = await port(net);
    const ms = Date.now() - t0;
    const name = lspName(p);
    expect(await one('Logical_Switch_Port', 'Port', p.id, 'port')).to.be.a('string');
    const address = `${p.mac as string} ${p.ip as string}`;
    expect(await nbctl('lsp-get-addresses', name)).to.equal(address);
    expect(await nbctl('lsp-get-port-security', name)).to.equal(address);
    expect(await nbctl('lsp-get-ls', name)).to.include(`syncord-${net.name as string}`);
    const dhcp = await one('DHCP_Options', 'Network', net.id, 'dhcp');
    expect(await nbctl('lsp-get-dhcpv4-options', name)).to.include(dhcp);
    expect(await get('Logical_Switch_Port', name, 'dynamic_addresses')).to.equal('[]');
    expect(p.backend_status).to.equal(
      `created logical switch port ${name} on syncord-${net.name as string} (${address})`,
    );
    // The Kubernetes side names the same switch and port.
    const attachment: Attachment = {
      port: p,
      network: net,
      nad: net.name as string,
      interface: 'net1',
      ip: `${p.ip as string}/24`,
      mac: p.mac as string,
    };
    const annotation = JSON.parse(networksAnnotation('ns', [attachment], h.instance) ?? '[]') as {
      'cni-args'?: { ovnPort?: string };
    }[];
    expect(annotation[0]?.['cni-args']).to.deep.equal({ ovnPort: name });
    expect(cniConfig({}, net, net.name as string).logical_switch).to.equal(
      await get('Logical_Switch', await one('Logical_Switch', 'Network', net.id, 'switch'), 'name'),
    );
    // Southbound: northd's binding, then a chassis claiming it, up; the Port shows both.
    const pb = await eventually(
      'the Port_Binding',
      async () =>
        (await sbctl(
          '--bare',
          '--columns=_uuid',
          'find',
          'Port_Binding',
          `logical_port=${name}`,
        )) || undefined,
    );
    await eventually('feedback: not up, no chassis', async () => {
      const o = await h.svc.get('Port', p.id);
      return o.ovn_up === false && o.ovn_chassis === null ? o : undefined;
    });
    await sbctl('lsp-bind', name, chassis);
    await sbctl('set', 'Port_Binding', pb, 'up=true');
    const bound = await eventually('feedback: up on the chassis', async () => {
      const o = await h.svc.get('Port', p.id);
      return o.ovn_up === true && o.ovn_chassis === chassis ? o : undefined;
    }).catch(async (err: unknown) => {
      const o = await h.svc.get('Port', p.id);
      const sb = await sbctl('list', 'Port_Binding', pb);
      throw new Error(`${String(err)}: ${JSON.stringify([o.ovn_up, o.ovn_chassis])} ${sb}`);
    });
    expect(bound.backend_code).to.equal(1);
    await eventually('northd to mark the switch port up', async () =>
      (await get('Logical_Switch_Port', name, 'up')) === 'true' ? true : undefined,
    );
    await sbctl('lsp-unbind', name);
    await sbctl('set', 'Port_Binding', pb, 'up=false');
    await eventually('feedback: unbound', async () => {
      const o = await h.svc.get('Port', p.id);
      return o.ovn_up === false && o.ovn_chassis === null ? o : undefined;
    });
    console.log(`      (model to logical switch port: ${String(ms)} ms)`);
  });

  it('puts back a switch port deleted out of band, and addresses changed out of band', async () => {
    const net = await network({ subnet: '10.83.0.0/24' });
    const p = await port(net);
    const name = lspName(p);
    const address = `${p.mac as string} ${p.ip as string}`;
    const first = await one('Logical_Switch_Port', 'Port', p.id, 'port');
    await nbctl('lsp-del', name);
    const again = await eventually('the switch port back', async () => {
      const rows = await find('Logical_Switch_Port', 'Port', p.id, 'port');
      return rows.length === 1 && rows[0] !== first ? rows[0] : undefined;
    });
    expect(await nbctl('lsp-get-addresses', name)).to.equal(address);
    expect(await nbctl('lsp-get-ls', name)).to.include(`syncord-${net.name as string}`);
    await nbctl('lsp-set-addresses', name, 'dynamic');
    await nbctl('lsp-set-port-security', name);
    await eventually('the addresses back', async () =>
      (await nbctl('lsp-get-addresses', name)) === address &&
      (await nbctl('lsp-get-port-security', name)) === address
        ? true
        : undefined,
    );
    expect(await find('Logical_Switch_Port', 'Port', p.id, 'port')).to.deep.equal([again]);
    // The whole switch deleted: the network's step makes it again, and the port's puts it back.
    await nbctl('ls-del', `syncord-${net.name as string}`);
    await eventually('switch and port back', async () =>
      (await find('Logical_Switch', 'Network', net.id, 'switch')).length === 1 &&
      (await nbctl('lsp-get-addresses', name).catch(() => '')) === address
        ? true
        : undefined,
    );
    const ls = await one('Logical_Switch', 'Network', net.id, 'switch');
    expect(await get('Logical_Switch', ls, 'other_config:subnet')).to.equal('10.83.0.0/24');
    await one('Logical_Switch_Port', 'Network', net.id, 'switch-router-port');
  });

  it("removes a stray with Syncord's ids and no model; never touches rows without them", async () => {
    const net = await network({ subnet: '10.84.0.0/24', type: 'FLAT' });
    const ls = `syncord-${net.name as string}`;
    const stray = uniqueName('stray');
    const foreign = uniqueName('foreign');
    const other = uniqueName('other-deployment');
    await nbctl(
      'lsp-add',
      ls,
      stray,
      '--',
      'set',
      'Logical_Switch_Port',
      stray,
      ...mine('Port', 999_999, 'port'),
      '--',
      'lsp-add',
      ls,
      foreign,
      '--',
      'lsp-add',
      ls,
      other,
      '--',
      'set',
      'Logical_Switch_Port',
      other,
      'external_ids:syncord-instance=someone-else',
      'external_ids:syncord-model=Port',
      'external_ids:syncord-id=999999',
    );
    const straySwitch = uniqueName('stray-ls');
    await nbctl(
      'ls-add',
      straySwitch,
      '--',
      'set',
      'Logical_Switch',
      straySwitch,
      ...mine('Network', 999_998, 'switch'),
    );
    await eventually('the strays removed', async () => {
      const ports = lines(await nbctl('--bare', '--columns=name', 'list', 'Logical_Switch_Port'));
      const switches = lines(await nbctl('--bare', '--columns=name', 'list', 'Logical_Switch'));
      return !ports.includes(stray) && !switches.includes(straySwitch) ? true : undefined;
    });
    await h.set.observer.settled();
    await sleep(500);
    expect(await h.set.observer.sweep()).to.deep.equal([]);
    const ports = lines(await nbctl('--bare', '--columns=name', 'list', 'Logical_Switch_Port'));
    expect(ports).to.include.members([foreign, other]);
    expect(h.log.join('\n')).to.match(
      new RegExp(
        `removed Logical_Switch_Port ${stray} of ${h.instance}: its Port 999999 does not exist`,
      ),
    );
    // FLAT is not routed: no router port.
    expect(await find('Logical_Router_Port', 'Network', net.id, 'router-port')).to.deep.equal([]);
    await nbctl('lsp-del', foreign);
    await nbctl('lsp-del', other);
  });

  it('applies DHCP and exclude range changes in place; refuses a CIDR change that would renumber live ports', async () => {
    const net = await network({ subnet: '10.85.0.0/24' });
    const p = await port(net);
    const name = lspName(p);
    const ls = await one('Logical_Switch', 'Network', net.id, 'switch');
    const dhcp = await one('DHCP_Options', 'Network', net.id, 'dhcp');
    // Exclude ranges: the same switch row, a new plan.
    await h.svc.update('Network', net.id, { exclude_ips: '10.85.0.200..10.85.0.250' });
    await synced(h, 'Network', net.id);
    expect(await one('Logical_Switch', 'Network', net.id, 'switch')).to.equal(ls);
    expect(await get('Logical_Switch', ls, 'other_config:exclude_ips')).to.equal(
      '10.85.0.1 10.85.0.200..10.85.0.250',
    );
    // DNS: the same DHCP row, new options.
    await h.svc.update('Network', net.id, { dns_servers: '9.9.9.9' });
    await synced(h, 'Network', net.id);
    expect(await one('DHCP_Options', 'Network', net.id, 'dhcp')).to.equal(dhcp);
    expect(lines(await nbctl('dhcp-options-get-options', dhcp))).to.include('dns_server=9.9.9.9');
    // DHCP off: the options go, and the port no longer points at them; on again: both back.
    await h.svc.update('Network', net.id, { dhcp: false });
    await synced(h, 'Network', net.id);
    expect(await find('DHCP_Options', 'Network', net.id, 'dhcp')).to.deep.equal([]);
    expect(await nbctl('lsp-get-dhcpv4-options', name)).to.equal('');
    await h.svc.update('Network', net.id, { dhcp: true });
    await synced(h, 'Network', net.id);
    const back = await one('DHCP_Options', 'Network', net.id, 'dhcp');
    await eventually('the port to point at the new DHCP options', async () =>
      (await nbctl('lsp-get-dhcpv4-options', name)).includes(back) ? true : undefined,
    );
    // A new CIDR would renumber the port: refused at the model, saying why; OVN is unchanged.
    let refused: unknown;
    try {
      await h.svc.update('Network', net.id, { subnet: '10.95.0.0/24', exclude_ips: null });
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(ValidationError);
    expect((refused as ValidationError).errors[0]).to.deep.include({ field: 'subnet' });
    expect((refused as Error).message).to.match(
      new RegExp(
        `subnet: cannot change while 1 addresses are allocated on it \\(e\\.g\\. to Port ${String(p.id)} `,
      ),
    );
    expect(await get('Logical_Switch', ls, 'other_config:subnet')).to.equal('10.85.0.0/24');
    // Without ports the network may move: switch, gateway, router port and DHCP follow.
    const empty = await network({ subnet: '10.86.0.0/24' });
    await h.svc.update('Network', empty.id, { subnet: '10.96.0.0/24' });
    await synced(h, 'Network', empty.id);
    const els = await one('Logical_Switch', 'Network', empty.id, 'switch');
    expect(await get('Logical_Switch', els, 'other_config:subnet')).to.equal('10.96.0.0/24');
    expect(
      await get(
        'Logical_Router_Port',
        `syncord-${h.instance}-rtos-${String(empty.id)}`,
        'networks',
      ),
    ).to.equal('["10.96.0.1/24"]');
    const edhcp = await one('DHCP_Options', 'Network', empty.id, 'dhcp');
    expect(await get('DHCP_Options', edhcp, 'cidr')).to.equal('10.96.0.0/24');
  });

  it("carries an IPv6 network: its /64 prefix, DHCPv6 and the port's IPv6 address", async () => {
    const net = await network({ subnet: 'fd00:81::/64', dns_servers: 'fd00:81::53' });
    const ls = await one('Logical_Switch', 'Network', net.id, 'switch');
    expect(await get('Logical_Switch', ls, 'other_config:ipv6_prefix')).to.equal('fd00:81::');
    expect(
      await get('Logical_Router_Port', `syncord-${h.instance}-rtos-${String(net.id)}`, 'networks'),
    ).to.equal('["fd00:81::1/64"]');
    const dhcp = await one('DHCP_Options', 'Network', net.id, 'dhcp');
    expect(lines(await nbctl('dhcp-options-get-options', dhcp))).to.include(
      'dns_server=fd00:81::53',
    );
    const p = await port(net);
    const name = lspName(p);
    expect(p.ip).to.equal('fd00:81::2');
    expect(await nbctl('lsp-get-addresses', name)).to.equal(`${p.mac as string} fd00:81::2`);
    expect(await nbctl('lsp-get-dhcpv6-options', name)).to.include(dhcp);
    expect(await nbctl('lsp-get-dhcpv4-options', name)).to.equal('');
  });

  it('leaves networks of other providers to others, and takes its rows back when one leaves OVN', async () => {
    const flannel = await network({ subnet: '10.90.0.0/24', provider: 'flannel' });
    expect(flannel.backend_status).to.equal('not an OVN network (its provider is flannel)');
    expect(await find('Logical_Switch', 'Network', flannel.id, 'switch')).to.deep.equal([]);
    const p = await port(flannel);
    expect(p.backend_status).to.match(/^not on an OVN network/);
    expect(await find('Logical_Switch_Port', 'Port', p.id, 'port')).to.deep.equal([]);
    const net = await network({ subnet: '10.90.1.0/24' });
    await h.svc.update('Network', net.id, { provider: 'sriov' });
    const moved = await synced(h, 'Network', net.id);
    expect(moved.backend_status).to.match(/^not an OVN network \(its provider is sriov\)/);
    for (const [table, role] of [
      ['Logical_Switch', 'switch'],
      ['DHCP_Options', 'dhcp'],
      ['Logical_Router_Port', 'router-port'],
    ] as const) {
      expect(await find(table, 'Network', net.id, role), table).to.deep.equal([]);
    }
  });

  it("makes a PUBLIC network's router port the router's gateway port on the gateway chassis", async () => {
    const net = await network({ subnet: '10.87.0.0/24', type: 'PUBLIC' });
    const lrp = `syncord-${h.instance}-rtos-${String(net.id)}`;
    expect(await nbctl('lrp-get-gateway-chassis', lrp)).to.match(
      new RegExp(`^${lrp}-${chassis}\\s+32767$`),
    );
    // northd makes the chassis-redirect port of a distributed gateway port.
    await eventually('the cr- port binding', async () =>
      (await sbctl(
        '--bare',
        '--columns=type',
        'find',
        'Port_Binding',
        `logical_port=cr-${lrp}`,
      )) === 'chassisredirect'
        ? true
        : undefined,
    );
    // PUBLIC to FLAT: the router port goes.
    await h.svc.update('Network', net.id, { type: 'FLAT' });
    await synced(h, 'Network', net.id);
    expect(await find('Logical_Router_Port', 'Network', net.id, 'router-port')).to.deep.equal([]);
    expect(
      await find('Logical_Switch_Port', 'Network', net.id, 'switch-router-port'),
    ).to.deep.equal([]);
  });

  it('tears down what it made, and the router with the last routed network', async () => {
    // Everything of this deployment's so far, then deleted: ports first, then networks.
    const net = await network({ subnet: '10.88.0.0/24' });
    await port(net);
    const ports = await h.svc.list('Port', { pageSize: 5000 });
    for (const p of ports.items) await h.svc.delete('Port', p.id);
    for (const p of ports.items) await gone(h, 'Port', p.id);
    for (const p of ports.items) {
      expect(await find('Logical_Switch_Port', 'Port', p.id, 'port')).to.deep.equal([]);
    }
    const nets = await h.svc.list('Network', { pageSize: 5000 });
    for (const n of nets.items) await h.svc.delete('Network', n.id);
    for (const n of nets.items) await gone(h, 'Network', n.id);
    const keys = { 'syncord-instance': h.instance };
    for (const table of [
      'Logical_Switch',
      'Logical_Switch_Port',
      'Logical_Router',
      'Logical_Router_Port',
      'DHCP_Options',
      'Gateway_Chassis',
    ]) {
      expect(await rowsOf(env.OVN_NB_DB, table, keys), table).to.deep.equal([]);
    }
  });
});

describe('ovn: an ovsdb-server restarted under a running synchronizer', function () {
  this.timeout(120_000);
  let server: PrivateOvsdb;
  let h: Harness;

  before(async function () {
    this.timeout(45 * 60_000);
    await rig();
    server = await PrivateOvsdb.create();
    await server.start();
    h = await harness({ nbEndpoint: server.tcp });
  });

  after(async function () {
    this.timeout(60_000);
    await h.engine.stop();
    await server.destroy();
    await h.db.drop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(h.log.slice(-40).join('\n'));
  });

  const nbctl = (...args: string[]) => ctl('ovn-nbctl', server.unix, ...args);

  it('reconnects and rebuilds what a database that came back empty lost', async () => {
    const si = await instanceFor(h.svc, 'restart');
    const net = await h.svc.create('Network', { name: 'restart-net', subnet: '10.89.0.0/24' });
    const p = await h.svc.create('Port', { network_id: net.id, service_instance_id: si.id });
    await synced(h, 'Port', p.id);
    const name = `syncord-${h.instance}-port-${String(p.id)}`;
    const port = await h.svc.get('Port', p.id);
    const address = `${port.mac as string} ${port.ip as string}`;
    expect(await nbctl('lsp-get-addresses', name)).to.equal(address);

    // Killed; an edit made while it is down; back with an empty database.
    await server.signal('SIGKILL');
    await h.svc.update('Network', net.id, { exclude_ips: '10.89.0.100' });
    await sleep(1000);
    await rm(server.dbFile);
    await exec('ovsdb-tool', ['create', server.dbFile, '/usr/share/ovn/ovn-nb.ovsschema']);
    const t0 = Date.now();
    await server.start();
    await eventually(
      'switch, router and port rebuilt',
      async () => {
        const ls = await nbctl(
          '--bare',
          '--columns=other_config',
          'find',
          'Logical_Switch',
          'name=syncord-restart-net',
        ).catch(() => '');
        const addr = await nbctl('lsp-get-addresses', name).catch(() => '');
        return ls.includes('10.89.0.1 10.89.0.100') && addr === address ? true : undefined;
      },
      60_000,
    );
    console.log(`      (server back to everything rebuilt: ${String(Date.now() - t0)} ms)`);
    await synced(h, 'Network', net.id);
    await synced(h, 'Port', p.id);
    expect(lines(await nbctl('--bare', '--columns=name', 'list', 'Logical_Router'))).to.deep.equal([
      `syncord-${h.instance}-router`,
    ]);
    expect(
      lines(await nbctl('--bare', '--columns=_uuid', 'list', 'Logical_Switch')),
    ).to.have.length(1);
    expect(h.log.join('\n')).to.match(/reconnected to the northbound database/);
  });
});
