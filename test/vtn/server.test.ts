// The VTN contract against the reference VTN server running as a process of its own: what it
// accepts and refuses (with the field named), idempotent writes, hosts as ONOS's host provider
// takes them, Watch, persistence across kill -9 and restart, grpcurl through reflection, and a
// client that meets a server answering garbage.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { VtnCallError, VtnClient } from '../../backends/vtn/client.js';
import type { WatchEvent__Output } from '../../backends/vtn/generated/cordvtn/WatchEvent.js';
import { VLAN_NONE } from '../../backends/vtn/store.js';
import { readEnv } from '../../rig/control.js';
import { loadConfig } from '../../rig/config.js';
import { eventually, rig } from '../support/rig.js';
import { spawnVtn, type VtnProcess } from '../support/vtn.js';

const exec = promisify(execFile);

const refusal = async (p: Promise<unknown>): Promise<VtnCallError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have been refused').to.be.instanceOf(VtnCallError);
  return err as VtnCallError;
};

const net = (id: string, n: number, extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  type: 'PRIVATE' as const,
  segment_id: 1000 + n,
  subnet: `10.77.${String(n)}.0/24`,
  service_ip: `10.77.${String(n)}.1`,
  annotations: { owner: 'test' },
  ...extra,
});

const host = (mac: string, networkId: string, portId: string, ips: string[]) => ({
  host_id: { mac, vlan_id: VLAN_NONE },
  description: {
    hw_address: mac,
    vlan: VLAN_NONE,
    location: { connect_point: { device_id: 'of:0000000000000001', port_number: '7' }, time: '1' },
    ip_addresses: ips,
    annotations: {
      networkId,
      networkType: 'PRIVATE',
      portId,
      createTime: '1700000000000',
    },
  },
  replace_ips: true,
});

describe('vtn: the reference server and the contract', function () {
  this.timeout(60_000);
  let dir: string;
  let vtn: VtnProcess;
  let client: VtnClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncord-vtn-'));
    vtn = await spawnVtn({ state: join(dir, 'state.json') });
    client = new VtnClient(vtn.address, { deadlineMs: 5000 });
    await client.waitForReady();
  });
  after(async () => {
    client.close();
    await vtn.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates or updates networks idempotently, and lists them by annotation', async () => {
    const made = await client.putNetwork(net('n1', 1));
    expect(made).to.include({ id: 'n1', type: 'PRIVATE', subnet: '10.77.1.0/24' });
    // uint64 as text (longs: String), as proto-loader gives it.
    expect(made.segment_id).to.equal('1001');
    // The same again: no change, no error.
    await client.putNetwork(net('n1', 1));
    await client.putNetwork(net('n2', 2, { providers: [{ id: 'n1', type: 'BIDIRECTIONAL' }] }));
    const mine = await client.listNetworks({ owner: 'test' });
    expect(mine.map((n) => n.id).sort()).to.deep.equal(['n1', 'n2']);
    expect(mine.find((n) => n.id === 'n2')!.providers).to.deep.equal([
      { id: 'n1', type: 'BIDIRECTIONAL' },
    ]);
    expect(await client.listNetworks({ owner: 'someone else' })).to.deep.equal([]);
  });

  it('refuses bad networks with the field named, and changes nothing', async () => {
    const cases: [Record<string, unknown>, grpc.status, RegExp][] = [
      [net('bad', 9, { subnet: '10.77.9.0/33' }), grpc.status.INVALID_ARGUMENT, /network\.subnet/],
      [
        net('bad', 9, { service_ip: '10.1.1.1' }),
        grpc.status.INVALID_ARGUMENT,
        /network\.service_ip: 10\.1\.1\.1 is not inside/,
      ],
      [net('bad', 9, { segment_id: 0 }), grpc.status.INVALID_ARGUMENT, /network\.segment_id/],
      [
        net('bad', 9, { type: 'NETWORK_TYPE_UNSPECIFIED' }),
        grpc.status.INVALID_ARGUMENT,
        /network\.type/,
      ],
      [
        net('bad', 9, { segment_id: 1001 }),
        grpc.status.FAILED_PRECONDITION,
        /segment_id: 1001 is network n1's/,
      ],
      [
        net('bad', 9, { providers: [{ id: 'nope' }] }),
        grpc.status.FAILED_PRECONDITION,
        /provider network nope does not exist/,
      ],
    ];
    for (const [n, code, message] of cases) {
      const err = await refusal(client.putNetwork(n));
      expect(err.code, err.message).to.equal(code);
      expect(err.message).to.match(message);
    }
    expect((await client.listNetworks()).map((n) => n.id)).to.not.include('bad');
    // Create of an id that exists with other values; update of one that does not.
    const exists = await refusal(
      new Promise((resolve, reject) => {
        client.raw.CreateNetwork({ network: net('n1', 1, { name: 'other' }) }, (e, r) => {
          if (e) reject(new VtnCallError(e.code, e.details, e.details));
          else resolve(r);
        });
      }),
    );
    expect(exists.code).to.equal(grpc.status.ALREADY_EXISTS);
    const missing = await refusal(
      new Promise((resolve, reject) => {
        client.raw.UpdateNetwork({ network: net('n9', 9), allow_missing: false }, (e, r) => {
          if (e) reject(new VtnCallError(e.code, e.details, e.details));
          else resolve(r);
        });
      }),
    );
    expect(missing.code).to.equal(grpc.status.NOT_FOUND);
  });

  it('keeps ports on existing networks, inside their subnets', async () => {
    const port = await client.putPort({
      id: 'p1',
      network_id: 'n1',
      name: 'tap-p1',
      mac_address: 'fa:16:3e:00:00:01',
      ip_address: '10.77.1.5',
      floating_address_pairs: [{ ip_address: '10.77.1.200', mac_address: 'fa:16:3e:00:00:99' }],
    });
    // MACs as ONOS writes them.
    expect(port.mac_address).to.equal('FA:16:3E:00:00:01');
    expect(port.vlan_id).to.equal(undefined);
    const tagged = await client.putPort({ id: 'p2', network_id: 'n1', vlan_id: 222 });
    expect(tagged.vlan_id).to.equal(222);
    const orphan = await refusal(client.putPort({ id: 'p3', network_id: 'nope' }));
    expect(orphan.code).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(orphan.message).to.match(/port\.network_id: network nope does not exist/);
    const outside = await refusal(
      client.putPort({ id: 'p3', network_id: 'n1', ip_address: '10.77.2.5' }),
    );
    expect(outside.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(outside.message).to.match(/port\.ip_address: 10\.77\.2\.5 is not inside network n1/);
    const busy = await refusal(client.deleteNetwork('n1'));
    expect(busy.code).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(busy.message).to.match(/still has 2 port/);
    expect((await client.listPorts({}, 'n1')).map((p) => p.id).sort()).to.deep.equal(['p1', 'p2']);
    expect(await client.deletePort('p2')).to.equal(true);
    expect(await client.deletePort('p2')).to.equal(false); // gone already: fine
  });

  it("takes hosts as ONOS's host provider does", async () => {
    const r = await client.hostDetected(host('fa:16:3e:00:00:01', 'n1', 'p1', ['10.77.1.5']));
    expect(r.changed).to.equal(true);
    expect(r.host!.host_id).to.deep.equal({ mac: 'FA:16:3E:00:00:01', vlan_id: VLAN_NONE });
    expect(r.host!.provider_id).to.deep.include({ scheme: 'host', id: 'org.opencord.vtn' });
    // The same again changes nothing; without replace_ips the addresses add up.
    expect(
      (await client.hostDetected(host('fa:16:3e:00:00:01', 'n1', 'p1', ['10.77.1.5']))).changed,
    ).to.equal(false);
    const more = await client.hostDetected({
      ...host('fa:16:3e:00:00:01', 'n1', 'p1', ['10.77.1.6']),
      replace_ips: false,
    });
    expect(more.host!.ip_addresses).to.deep.equal(['10.77.1.5', '10.77.1.6']);
    const noType = host('fa:16:3e:00:00:02', 'n1', 'p1', []);
    delete (noType.description.annotations as Record<string, string>).createTime;
    const bad = await refusal(client.hostDetected(noType));
    expect(bad.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(bad.message).to.match(/description\.annotations\.createTime: is required by VTN/);
    const ghost = await refusal(client.hostDetected(host('fa:16:3e:00:00:03', 'n1', 'nope', [])));
    expect(ghost.code).to.equal(grpc.status.FAILED_PRECONDITION);
    // A port with a host on it stays.
    const held = await refusal(client.deletePort('p1'));
    expect(held.message).to.match(/host FA:16:3E:00:00:01\/None is on port p1/);
    expect((await client.listHosts({ portId: 'p1' })).length).to.equal(1);
    expect(await client.hostVanished({ mac: 'FA:16:3E:00:00:01', vlan_id: VLAN_NONE })).to.equal(
      true,
    );
    expect(await client.hostVanished({ mac: 'FA:16:3E:00:00:01', vlan_id: VLAN_NONE })).to.equal(
      false,
    );
  });

  it('streams every change to a watcher, after the current state', async () => {
    const events: WatchEvent__Output[] = [];
    const stream = client.watch(true);
    stream.on('data', (e: WatchEvent__Output) => events.push(e));
    stream.on('error', () => undefined);
    await eventually('the initial state', () =>
      Promise.resolve(events.some((e) => e.type === 'SYNCED') ? true : undefined),
    );
    const initial = events
      .filter((e) => e.type === 'ADDED')
      .map((e) => e.network?.id ?? e.port?.id);
    expect(initial).to.include.members(['n1', 'n2', 'p1']);
    await client.putNetwork(net('n3', 3));
    await client.deleteNetwork('n3');
    await eventually('the live changes', () =>
      Promise.resolve(
        events.some((e) => e.type === 'REMOVED' && e.network?.id === 'n3') ? true : undefined,
      ),
    );
    const live = events.slice(events.findIndex((e) => e.type === 'SYNCED') + 1);
    expect(live.map((e) => `${e.type} ${e.network?.id ?? ''}`)).to.deep.equal([
      'ADDED n3',
      'REMOVED n3',
    ]);
    expect(Number(live[1]!.revision)).to.equal(Number(live[0]!.revision) + 1);
    stream.cancel();
  });

  it('keeps its state across kill -9 and a restart, also past a journal compaction', async () => {
    // Enough writes to fold the journal into the snapshot at least once.
    await client.putNetwork(net('bulk', 50, { subnet: '10.78.0.0/16', service_ip: '10.78.0.1' }));
    const ids: string[] = [];
    for (let i = 0; i < 6000; i += 200) {
      await Promise.all(
        Array.from({ length: 200 }, (_, k) => {
          const id = `bulk-${String(i + k)}`;
          ids.push(id);
          return client.putPort({
            id,
            network_id: 'bulk',
            ip_address: `10.78.${String(Math.floor((i + k) / 250))}.${String(((i + k) % 250) + 2)}`,
          });
        }),
      );
    }
    const before = {
      networks: (await client.listNetworks()).length,
      ports: (await client.listPorts()).length,
    };
    await vtn.stop('SIGKILL');
    client.close();
    vtn = await spawnVtn({ state: join(dir, 'state.json'), listen: vtn.address });
    client = new VtnClient(vtn.address, { deadlineMs: 5000 });
    await client.waitForReady();
    expect(vtn.banner).to.match(
      new RegExp(`${String(before.networks)} networks, ${String(before.ports)} ports`),
    );
    expect((await client.listPorts({}, 'bulk')).length).to.equal(6000);
    expect((await client.listNetworks()).find((n) => n.id === 'n2')?.providers).to.have.length(1);
  });

  it('answers grpcurl through reflection, health included', async function () {
    const grpcurl = process.env.SYNCORD_GRPCURL ?? readEnv(loadConfig())?.SYNCORD_GRPCURL;
    if (!grpcurl) {
      process.stderr.write('[test] no grpcurl: run rig/rig up, which builds it\n');
      this.skip();
    }
    const run = async (...args: string[]) => (await exec(grpcurl, ['-plaintext', ...args])).stdout;
    expect(await run(vtn.address, 'list'))
      .to.include('cordvtn.VtnService')
      .and.include('grpc.health.v1.Health');
    expect(await run(vtn.address, 'describe', 'net.host.HostDescription')).to.match(
      /map<string, string> annotations = 6;/,
    );
    const listed = JSON.parse(
      await run(
        '-d',
        '{"annotations":{"owner":"test"}}',
        vtn.address,
        'cordvtn.VtnService/ListNetworks',
      ),
    ) as { networks: { id: string }[] };
    expect(listed.networks.map((n) => n.id)).to.include('n1');
    expect(await run(vtn.address, 'grpc.health.v1.Health/Check')).to.include('SERVING');
    const refused = await exec(grpcurl, [
      '-plaintext',
      '-d',
      '{"port":{"id":"x","network_id":"nope"}}',
      vtn.address,
      'cordvtn.VtnService/CreatePort',
    ]).then(
      () => '',
      (e: unknown) => {
        const o = e as { stdout?: string; stderr?: string };
        return `${o.stdout ?? ''}${o.stderr ?? ''}`;
      },
    );
    expect(refused)
      .to.match(/FailedPrecondition/)
      .and.match(/network nope does not exist/);
  });
});

describe('vtn: TLS', function () {
  this.timeout(60_000);
  let vtn: VtnProcess | undefined;
  after(async () => {
    await vtn?.stop();
  });

  it('serves TLS with a certificate; a client trusting its CA gets in, others do not', async () => {
    // The rig's CA and its serving certificate for 127.0.0.1 (rig/pki.ts).
    const env = await rig();
    const pki = join(env.SYNCORD_RIG_DIR, 'pki');
    vtn = await spawnVtn({
      args: ['--tls-cert', join(pki, 'apiserver.crt'), '--tls-key', join(pki, 'apiserver.key')],
    });
    expect(vtn.banner).to.include('(TLS)');
    // By name (the certificate has DNS:localhost): TLS takes no IP address as a server name.
    const trusted = new VtnClient(vtn.address.replace('127.0.0.1', 'localhost'), {
      deadlineMs: 3000,
      tls: { ca: readFileSync(join(pki, 'ca.crt')) },
    });
    const plain = new VtnClient(vtn.address, { deadlineMs: 3000 });
    const stranger = new VtnClient(vtn.address.replace('127.0.0.1', 'localhost'), {
      deadlineMs: 3000,
      tls: {},
    });
    try {
      expect(await trusted.listNetworks()).to.deep.equal([]);
      expect((await refusal(plain.listNetworks())).unavailable).to.equal(true);
      const err = await refusal(stranger.listNetworks());
      expect(err.message).to.match(/^VTN at localhost:\d+ unreachable/);
    } finally {
      trusted.close();
      plain.close();
      stranger.close();
    }
  });
});

describe('vtn: the client against a server that answers garbage or nothing', function () {
  this.timeout(30_000);
  let server: grpc.Server;
  let address: string;

  before(async () => {
    server = new grpc.Server();
    // The VTN methods, answering bytes that are not the messages they should be.
    // Field 1 with wire type 7, which protobuf does not have.
    const garbage = () => Buffer.from([0x0f, 0x01, 0x02, 0x03]);
    for (const method of ['ListNetworks', 'UpdatePort', 'ListHosts']) {
      server.register(
        `/cordvtn.VtnService/${method}`,
        (_call: unknown, cb: (e: null, r: Buffer) => void) => {
          cb(null, garbage());
        },
        (b: Buffer) => b,
        (b: Buffer) => b,
        'unary',
      );
    }
    // Well-formed, wrong in content: a network without its id.
    server.register(
      '/cordvtn.VtnService/UpdateNetwork',
      (_call: unknown, cb: (e: null, r: Buffer) => void) => {
        cb(null, Buffer.from([0x12, 0x01, 0x78])); // name = "x", no id
      },
      (b: Buffer) => b,
      (b: Buffer) => b,
      'unary',
    );
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => {
        if (e) reject(e);
        else resolve(p);
      });
    });
    address = `127.0.0.1:${String(port)}`;
  });
  after(() => {
    server.forceShutdown();
  });

  it('gives an error naming the VTN and the call, and does not crash', async () => {
    const client = new VtnClient(address, { deadlineMs: 3000 });
    try {
      const list = await refusal(client.listNetworks());
      expect(list.message).to.match(
        new RegExp(`VTN at ${address} gave a bad answer to ListNetworks`),
      );
      const put = await refusal(client.putPort({ id: 'p', network_id: 'n' }));
      expect(put.message).to.match(/gave a bad answer to UpdatePort/);
      const idless = await refusal(client.putNetwork(net('n', 1)));
      expect(idless.message).to.match(
        /gave a bad answer to UpdateNetwork: a network without an id/,
      );
      const unknown = await refusal(client.deletePort('p'));
      expect(unknown.message).to.match(/gave a bad answer to DeletePort \(UNIMPLEMENTED/);
    } finally {
      client.close();
    }
  });

  it('says the VTN is unreachable when nothing listens, after retrying', async () => {
    const client = new VtnClient('127.0.0.1:1', { deadlineMs: 2000 });
    try {
      const err = await refusal(client.listNetworks());
      expect(err.unavailable).to.equal(true);
      expect(err.message).to.match(/^VTN at 127\.0\.0\.1:1 (unreachable|did not answer)/);
    } finally {
      client.close();
    }
  });
});
