// The OVSDB client against real ovsdb-servers: the rig's OVN northbound and southbound databases
// (read back with ovn-nbctl, a client nobody here wrote), and a private ovsdb-server that the
// reconnection tests kill -9, stop and restart.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  asString,
  asStringMap,
  del,
  eq,
  insert,
  mutate,
  namedUuid,
  OvsdbClient,
  OvsdbConnectionError,
  OvsdbSchemaError,
  OvsdbTransactionError,
  select,
  update,
  wait,
  type Monitor,
  type Row,
  type RowChange,
} from '../../backends/ovn/ovsdb.js';
import { rig, uniqueName, type RigEnv } from '../support/rig.js';
import { PrivateOvsdb } from './private-ovsdb.js';

const exec = promisify(execFile);
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

async function nbctl(db: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('ovn-nbctl', [`--db=${db}`, ...args]);
  return stdout.trim();
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

function byName(monitor: Monitor, table: string, name: string): Row | undefined {
  return monitor.find(table, (row) => row.name === name);
}

function nextDisconnect(client: OvsdbClient): Promise<Error> {
  return new Promise((resolve) => client.once('disconnected', resolve));
}

function nextConnect(client: OvsdbClient): Promise<{ reconnect: boolean }> {
  return new Promise((resolve) => client.once('connected', resolve));
}

describe('OVSDB client on the rig (OVN northbound and southbound)', function () {
  let env: RigEnv;
  let nb: OvsdbClient;
  let sent: string[] = [];
  const switches: string[] = [];

  /** A switch name this test owns; afterEach deletes it (and so its ports). */
  function switchName(prefix: string): string {
    const name = uniqueName(prefix);
    switches.push(name);
    return name;
  }

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    nb = await OvsdbClient.connect(env.OVN_NB_DB, {
      database: 'OVN_Northbound',
      trace: (direction, text) => {
        if (direction === 'send') sent.push(text);
      },
    });
  });

  beforeEach(() => {
    sent = [];
  });

  afterEach(async () => {
    for (const name of switches.splice(0))
      await nbctl(env.OVN_NB_DB, '--if-exists', 'ls-del', name);
  });

  after(() => {
    nb.close();
  });

  it('fetches the schema on connect and prefers monitor_cond', () => {
    expect(nb.schema.name).to.equal('OVN_Northbound');
    expect(
      nb.schema.tables.get('Logical_Switch')?.columns.get('ports')?.type.key.refTable,
    ).to.equal('Logical_Switch_Port');
    expect(nb.connected).to.equal(true);
  });

  it('inserts a switch and a port it references by named-uuid in one transaction', async () => {
    const name = switchName('ls-ovsdb');
    const port = `${name}-p1`;
    const [lsp, ls] = await nb.transact([
      insert(
        'Logical_Switch_Port',
        {
          name: port,
          addresses: ['02:00:00:00:00:01 10.31.0.2'],
          port_security: ['02:00:00:00:00:01 10.31.0.2'],
          tag_request: 7,
          enabled: true,
          external_ids: { 'syncord-owner': 'port/1' },
        },
        'p1',
      ),
      insert(
        'Logical_Switch',
        {
          name,
          ports: [namedUuid('p1')],
          other_config: { subnet: '10.31.0.0/24', exclude_ips: '10.31.0.1' },
          external_ids: { 'syncord-owner': 'network/1' },
        },
        'ls',
      ),
    ]);
    expect(lsp.uuid).to.match(/^[0-9a-f-]{36}$/);
    expect(ls.uuid).to.match(/^[0-9a-f-]{36}$/);

    const show = await nbctl(env.OVN_NB_DB, 'show', name);
    expect(show).to.include(`switch ${ls.uuid} (${name})`);
    expect(show).to.include(`port ${port}`);
    expect(show).to.include('addresses: ["02:00:00:00:00:01 10.31.0.2"]');

    const got = await nbctl(
      env.OVN_NB_DB,
      'get',
      'Logical_Switch_Port',
      port,
      '_uuid',
      'addresses',
      'port_security',
      'tag_request',
      'enabled',
      'external_ids',
      'type',
    );
    expect(got.split('\n')).to.deep.equal([
      lsp.uuid,
      '["02:00:00:00:00:01 10.31.0.2"]',
      '["02:00:00:00:00:01 10.31.0.2"]',
      '7',
      'true',
      '{syncord-owner="port/1"}',
      '""',
    ]);
    expect(await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch', name, 'ports')).to.equal(
      `[${lsp.uuid}]`,
    );
    expect(await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch', name, 'other_config')).to.equal(
      '{exclude_ips="10.31.0.1", subnet="10.31.0.0/24"}',
    );

    // And our own select reads it back in the plain JS forms.
    const [selected] = await nb.transact([
      select(
        'Logical_Switch_Port',
        [eq('name', port)],
        ['name', 'addresses', 'tag_request', 'enabled', 'dynamic_addresses'],
      ),
    ]);
    expect(selected.rows).to.deep.equal([
      {
        name: port,
        addresses: ['02:00:00:00:00:01 10.31.0.2'],
        tag_request: 7,
        dynamic_addresses: null,
        enabled: true,
      },
    ]);
  });

  it('updates columns and mutates a map (insert/delete keys) and a set (insert/delete ports)', async () => {
    const name = switchName('ls-mutate');
    const [ls] = await nb.transact([
      insert('Logical_Switch', { name, external_ids: { a: '1', b: '2' } }),
    ]);
    const where = [eq('_uuid', ls.uuid)];

    const [updated] = await nb.transact([
      update('Logical_Switch', where, { other_config: { subnet: '10.32.0.0/24' } }),
    ]);
    expect(updated.count).to.equal(1);
    expect(
      await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch', name, 'other_config:subnet'),
    ).to.equal('"10.32.0.0/24"');

    await nb.transact([
      mutate('Logical_Switch', where, [
        ['external_ids', 'insert', { c: '3', a: 'ignored' }],
        ['external_ids', 'delete', ['b']],
      ]),
    ]);
    // insert never overwrites an existing key; delete by key removes it whatever its value.
    expect(await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch', name, 'external_ids')).to.equal(
      '{a="1", c="3"}',
    );
    await nb.transact([
      mutate('Logical_Switch', where, [['external_ids', 'delete', { a: '1', c: 'x' }]]),
    ]);
    expect(await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch', name, 'external_ids')).to.equal(
      '{c="3"}',
    );

    const [p1, , p2] = await nb.transact([
      insert('Logical_Switch_Port', { name: `${name}-p1` }, 'p1'),
      mutate('Logical_Switch', where, [['ports', 'insert', [namedUuid('p1')]]]),
      insert('Logical_Switch_Port', { name: `${name}-p2` }, 'p2'),
      mutate('Logical_Switch', where, [['ports', 'insert', [namedUuid('p2')]]]),
    ]);
    const ports = await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch', name, 'ports');
    expect(ports.replace(/[[\]]/g, '').split(', ').sort()).to.deep.equal([p1.uuid, p2.uuid].sort());

    await nb.transact([mutate('Logical_Switch', where, [['ports', 'delete', [p1.uuid]]])]);
    expect(await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch', name, 'ports')).to.equal(
      `[${p2.uuid}]`,
    );
    // Logical_Switch_Port is not a root table: the port no switch holds is gone.
    expect(
      await nbctl(
        env.OVN_NB_DB,
        '--bare',
        '--columns=name',
        'find',
        'Logical_Switch_Port',
        `name=${name}-p1`,
      ),
    ).to.equal('');
  });

  it('aborts the whole transaction when a wait fails, and commits when it holds', async () => {
    const name = switchName('ls-wait');
    const other = switchName('ls-wait-other');
    const [ls] = await nb.transact([
      insert('Logical_Switch', { name, external_ids: { gen: '1' } }),
    ]);
    const where = [eq('_uuid', ls.uuid)];

    const err = await rejection(
      nb.transact([
        insert('Logical_Switch', { name: other }),
        wait('Logical_Switch', where, ['external_ids'], '==', [{ external_ids: { gen: '0' } }]),
        update('Logical_Switch', where, { external_ids: { gen: '2' } }),
      ]),
    );
    expect(err).to.be.instanceOf(OvsdbTransactionError);
    const txErr = err as OvsdbTransactionError;
    expect(txErr.opIndex).to.equal(1);
    expect(txErr.op).to.equal('wait');
    expect(txErr.table).to.equal('Logical_Switch');
    expect(txErr.error).to.equal('timed out');
    expect(txErr.message).to.match(
      /op 1 \(wait on Logical_Switch\): timed out.*nothing was applied/,
    );
    expect(
      await nbctl(
        env.OVN_NB_DB,
        '--bare',
        '--columns=name',
        'find',
        'Logical_Switch',
        `name=${other}`,
      ),
    ).to.equal('');
    expect(await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch', name, 'external_ids:gen')).to.equal(
      '"1"',
    );

    await nb.transact([
      wait('Logical_Switch', where, ['external_ids'], '==', [{ external_ids: { gen: '1' } }]),
      update('Logical_Switch', where, { external_ids: { gen: '2' } }),
    ]);
    expect(await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch', name, 'external_ids:gen')).to.equal(
      '"2"',
    );
  });

  it('reports a failed commit (a dangling strong reference) as one error, nothing applied', async () => {
    const name = switchName('ls-dangling');
    const err = await rejection(
      nb.transact([
        insert('Logical_Switch', {
          name,
          ports: ['0badc0de-0000-4000-8000-000000000000'],
        }),
      ]),
    );
    expect(err).to.be.instanceOf(OvsdbTransactionError);
    expect((err as OvsdbTransactionError).op).to.equal('commit');
    expect((err as OvsdbTransactionError).opIndex).to.equal(1);
    expect(err.message).to.match(/commit: referential integrity violation/);
    expect(
      await nbctl(
        env.OVN_NB_DB,
        '--bare',
        '--columns=name',
        'find',
        'Logical_Switch',
        `name=${name}`,
      ),
    ).to.equal('');
  });

  it('refuses a column the schema lacks before sending anything', async () => {
    const name = switchName('ls-refused');
    const err = await rejection(
      nb.transact([
        insert('Logical_Switch', { name }),
        insert('Logical_Switch', { name: `${name}-2`, no_such_column: 'x' }),
      ]),
    );
    expect(err).to.be.instanceOf(OvsdbSchemaError);
    const schemaErr = err as OvsdbSchemaError;
    expect([schemaErr.opIndex, schemaErr.table, schemaErr.column]).to.deep.equal([
      1,
      'Logical_Switch',
      'no_such_column',
    ]);
    expect(err.message).to.equal(
      'op 1: Logical_Switch.no_such_column: no such column in table Logical_Switch',
    );
    expect(sent.filter((text) => text.includes('"transact"'))).to.deep.equal([]);
    expect(
      await nbctl(
        env.OVN_NB_DB,
        '--bare',
        '--columns=name',
        'find',
        'Logical_Switch',
        `name=${name}`,
      ),
    ).to.equal('');

    // The other checks refuse in the same way, each naming the column and reason.
    const refusals = [
      [
        insert('Logical_Switch_Port', { name, tag_request: 5000 }),
        /tag_request: 5000 is greater than the maximum 4095/,
      ],
      [insert('Logical_Switch', { name, ports: 'x' }), /Logical_Switch.ports: expected an array/],
      [
        update('Logical_Switch', [eq('name', name)], {
          _uuid: '0badc0de-0000-4000-8000-000000000000',
        }),
        /_uuid: is read-only/,
      ],
      [
        mutate('Logical_Switch', [eq('name', name)], [['ports', '+=', 1]]),
        /ports: \+= applies only to integer or real columns/,
      ],
      [
        mutate('Logical_Switch', [eq('name', name)], [['name', 'insert', ['x']]]),
        /name: insert applies only to sets and maps/,
      ],
      [insert('No_Such_Table', {}), /table No_Such_Table: no such table/],
    ] as const;
    for (const [op, reason] of refusals) {
      const e = await rejection(nb.transact([op]));
      expect(e, String(reason)).to.be.instanceOf(OvsdbSchemaError);
      expect(e.message).to.match(reason);
    }
    expect(sent.filter((text) => text.includes('"transact"'))).to.deep.equal([]);
  });

  it('keeps a replica that follows rows ovn-nbctl inserts, changes and deletes', async () => {
    const name = switchName('ls-watched');
    const port = `${name}-p`;
    const monitor = await nb.monitor({
      Logical_Switch: ['name', 'ports', 'other_config', 'external_ids'],
      Logical_Switch_Port: ['name', 'addresses', 'tag_request', 'enabled', 'external_ids'],
    });
    const changes: RowChange[] = [];
    monitor.on('change', (c) => {
      if (
        c.new?.name === name ||
        c.old?.name === name ||
        c.new?.name === port ||
        c.old?.name === port
      ) {
        changes.push(c);
      }
    });
    try {
      expect(nb.monitorMethodInUse).to.equal('monitor_cond');
      await nbctl(
        env.OVN_NB_DB,
        'ls-add',
        name,
        '--',
        'set',
        'Logical_Switch',
        name,
        'other_config:subnet=10.33.0.0/24',
        'external_ids:owner=outside',
        '--',
        'lsp-add',
        name,
        port,
        '--',
        'lsp-set-addresses',
        port,
        '02:00:00:00:00:21 10.33.0.21',
      );
      const ls = await monitor.until('the switch in the replica', () =>
        byName(monitor, 'Logical_Switch', name),
      );
      const lsp = await monitor.until('the port in the replica', () =>
        byName(monitor, 'Logical_Switch_Port', port),
      );
      expect(ls.other_config).to.deep.equal({ subnet: '10.33.0.0/24' });
      expect(ls.external_ids).to.deep.equal({ owner: 'outside' });
      expect(ls.ports).to.deep.equal([lsp._uuid]);
      expect(lsp).to.deep.equal({
        _uuid: await nbctl(env.OVN_NB_DB, 'get', 'Logical_Switch_Port', port, '_uuid'),
        name: port,
        addresses: ['02:00:00:00:00:21 10.33.0.21'],
        tag_request: null,
        enabled: null,
        external_ids: {},
      });

      await nbctl(env.OVN_NB_DB, 'set', 'Logical_Switch', name, 'external_ids:owner=changed');
      const owner = () =>
        asStringMap(byName(monitor, 'Logical_Switch', name)?.external_ids ?? {}).owner;
      await monitor.until('the change', () => (owner() === 'changed' ? true : undefined));

      await nbctl(env.OVN_NB_DB, 'ls-del', name);
      await monitor.until('the deletion', () =>
        byName(monitor, 'Logical_Switch', name) || byName(monitor, 'Logical_Switch_Port', port)
          ? undefined
          : true,
      );
      const kinds = changes.map((c) => `${c.kind} ${c.table}`);
      expect(kinds).to.include.members([
        'insert Logical_Switch',
        'insert Logical_Switch_Port',
        'modify Logical_Switch',
        'delete Logical_Switch',
        'delete Logical_Switch_Port',
      ]);
      const modify = changes.find(
        (c) => c.kind === 'modify' && asStringMap(c.new?.external_ids ?? {}).owner === 'changed',
      );
      expect(modify?.old?.external_ids).to.deep.equal({ owner: 'outside' });
      expect(changes.every((c) => c.cause === 'update')).to.equal(true);
    } finally {
      await monitor.cancel();
    }
  });

  it('indexes the replica by a key of the row, following inserts, changes and deletes', async () => {
    const name = switchName('ls-indexed');
    const monitor = await nb.monitor({ Logical_Switch: ['name', 'external_ids'] });
    try {
      // Rows there before the index was made are in it too.
      await nbctl(
        env.OVN_NB_DB,
        'ls-add',
        name,
        '--',
        'set',
        'Logical_Switch',
        name,
        'external_ids:team=red',
      );
      await monitor.until('the switch', () => byName(monitor, 'Logical_Switch', name));
      const byTeam = monitor.index('Logical_Switch', (row) => {
        const team = asStringMap(row.external_ids ?? {}).team;
        return team ? [team] : [];
      });
      expect(byTeam.get('red').map((r) => r.name)).to.include(name);
      await nbctl(env.OVN_NB_DB, 'set', 'Logical_Switch', name, 'external_ids:team=blue');
      await monitor.until('moved to blue', () =>
        byTeam.get('blue').some((r) => r.name === name) ? true : undefined,
      );
      expect(byTeam.get('red').map((r) => r.name)).to.not.include(name);
      await nbctl(env.OVN_NB_DB, 'ls-del', name);
      await monitor.until('gone', () =>
        byTeam.get('blue').some((r) => r.name === name) ? undefined : true,
      );
      expect(() => monitor.index('Logical_Router', () => [])).to.throw(
        /does not watch Logical_Router/,
      );
    } finally {
      await monitor.cancel();
    }
  });

  it('sees the southbound Datapath_Binding ovn-northd makes for a switch', async () => {
    const sb = await OvsdbClient.connect(env.OVN_SB_DB, { database: 'OVN_Southbound' });
    try {
      const monitor = await sb.monitor({ Datapath_Binding: ['external_ids', 'tunnel_key'] });
      const name = switchName('ls-sb');
      const [ls] = await nb.transact([insert('Logical_Switch', { name })]);
      const binding = await monitor.until('northd to bind a datapath', () =>
        monitor.find('Datapath_Binding', (row) => asStringMap(row.external_ids).name === name),
      );
      expect(binding.external_ids).to.deep.include({ 'logical-switch': ls.uuid, name });
      expect(binding.tunnel_key).to.be.a('number').and.to.be.greaterThan(0);

      await nb.transact([del('Logical_Switch', [eq('_uuid', ls.uuid)])]);
      await monitor.until('northd to remove the datapath', () =>
        monitor.get('Datapath_Binding', binding._uuid as string) ? undefined : true,
      );
    } finally {
      sb.close();
    }
  });
});

describe('OVSDB client against a private ovsdb-server (kill -9, stop, restart)', function () {
  let server: PrivateOvsdb;

  beforeEach(async () => {
    server = await PrivateOvsdb.create();
    await server.start();
  });

  afterEach(async () => {
    await server.destroy();
  });

  it('reconnects by itself after kill -9 and resyncs its replica with what changed meanwhile', async function () {
    this.timeout(60_000);
    const client = await OvsdbClient.connect(server.tcp, {
      database: 'OVN_Northbound',
      backoffInitialMs: 100,
      backoffMaxMs: 500,
      echoIntervalMs: 1000,
    });
    try {
      const monitor = await client.monitor({ Logical_Switch: ['name', 'external_ids'] });
      const [a, c] = await client.transact([
        insert('Logical_Switch', { name: 'a' }),
        insert('Logical_Switch', { name: 'c', external_ids: { v: '1' } }),
      ]);
      await monitor.until('a and c', () =>
        monitor.rows('Logical_Switch').length === 2 ? true : undefined,
      );
      const changes: RowChange[] = [];
      monitor.on('change', (ch) => changes.push(ch));

      // A transaction the server holds (a wait with a long timeout) when it dies.
      const inFlight = rejection(
        client.transact([
          wait('Logical_Switch', [eq('name', 'a')], ['name'], '==', [{ name: 'never' }], 50_000),
        ]),
      );
      await new Promise((r) => setTimeout(r, 200));
      const disconnected = nextDisconnect(client);
      await server.signal('SIGKILL');
      expect((await disconnected).message).to.match(/closed|reset/i);
      const lost = await inFlight;
      expect(lost).to.be.instanceOf(OvsdbConnectionError);
      expect((lost as OvsdbConnectionError).applied).to.equal('unknown');
      expect(lost.message).to.match(/may or may not have been applied/);

      // While it is down, a call that may not wait fails saying nothing was sent.
      const notSent = await rejection(
        client.transact([insert('Logical_Switch', { name: 'x' })], { waitForConnectionMs: 300 }),
      );
      expect((notSent as OvsdbConnectionError).applied).to.equal('no');
      expect(notSent.message).to.match(/not connected .* for 300ms .*nothing was sent/);

      // Back on the same db file, first on the unix socket only: ovn-nbctl changes things while
      // the client (on tcp) cannot reach it.
      await server.start({ tcp: false });
      await nbctl(
        server.unix,
        'ls-add',
        'b',
        '--',
        'ls-del',
        'a',
        '--',
        'set',
        'Logical_Switch',
        'c',
        'external_ids:v=2',
      );
      const queued = client.transact([insert('Logical_Switch', { name: 'd' })]);
      const reconnected = nextConnect(client);
      await server.addTcpRemote();
      expect(await reconnected).to.deep.equal({ reconnect: true });
      const [d] = await queued;

      const names = () =>
        monitor
          .rows('Logical_Switch')
          .map((r) => asString(r.name))
          .sort();
      await monitor.until('the replica to converge', () =>
        names().join() === 'b,c,d' ? true : undefined,
      );
      expect(monitor.get('Logical_Switch', c.uuid)?.external_ids).to.deep.equal({ v: '2' });
      const resync = changes
        .filter((ch) => ch.cause === 'resync')
        .map((ch) => `${ch.kind} ${asString((ch.new ?? ch.old)?.name)}`);
      expect(resync.sort()).to.deep.equal(['delete a', 'insert b', 'modify c']);
      expect(changes.find((ch) => ch.kind === 'modify')?.old?.external_ids).to.deep.equal({
        v: '1',
      });
      expect(changes.find((ch) => ch.kind === 'delete')?.uuid).to.equal(a.uuid);
      expect(
        changes.some((ch) => ch.cause === 'update' && ch.kind === 'insert' && ch.uuid === d.uuid),
      ).to.equal(true);

      // The replica is what the server holds, as ovn-nbctl reads it.
      const listed = await nbctl(
        server.unix,
        '--bare',
        '--columns=_uuid,name',
        'list',
        'Logical_Switch',
      );
      const server_rows = listed
        .split('\n\n')
        .map((block) => block.split('\n'))
        .map(([uuid, name]) => `${uuid ?? ''} ${name ?? ''}`);
      const replica_rows = monitor
        .rows('Logical_Switch')
        .map((r) => `${asString(r._uuid)} ${asString(r.name)}`);
      expect(replica_rows.sort()).to.deep.equal(server_rows.sort());
    } finally {
      client.close();
    }
  });

  it('declares a stopped server dead when its echo goes unanswered, then reconnects', async function () {
    this.timeout(60_000);
    const client = await OvsdbClient.connect(server.tcp, {
      database: 'OVN_Northbound',
      echoIntervalMs: 300,
      echoTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      backoffInitialMs: 100,
      backoffMaxMs: 500,
    });
    try {
      const monitor = await client.monitor({ Logical_Switch: ['name'] });
      const started = Date.now();
      const disconnected = nextDisconnect(client);
      await server.signal('SIGSTOP');
      const why = await disconnected;
      expect(why.message).to.equal('no reply to echo within 1000ms: connection presumed dead');
      expect(Date.now() - started).to.be.lessThan(5000);

      const reconnected = nextConnect(client);
      await server.signal('SIGCONT');
      await reconnected;
      await client.transact([insert('Logical_Switch', { name: 'after-stop' })]);
      await monitor.until('the new row', () => byName(monitor, 'Logical_Switch', 'after-stop'));
    } finally {
      client.close();
    }
  });

  it('works over a unix socket', async () => {
    const client = await OvsdbClient.connect(server.unix, { database: 'OVN_Northbound' });
    try {
      const monitor = await client.monitor({ Logical_Switch: [] });
      const [ls] = await client.transact([
        insert('Logical_Switch', { name: 'over-unix', other_config: { subnet: '10.9.0.0/24' } }),
      ]);
      expect(await nbctl(server.unix, 'get', 'Logical_Switch', 'over-unix', '_uuid')).to.equal(
        ls.uuid,
      );
      const row = await monitor.until('the row', () => monitor.get('Logical_Switch', ls.uuid));
      expect(row.other_config).to.deep.equal({ subnet: '10.9.0.0/24' });
      expect(row.ports).to.deep.equal([]);
      expect(
        await client.select('Logical_Switch', [eq('name', 'over-unix')], ['name']),
      ).to.deep.equal([{ name: 'over-unix' }]);
    } finally {
      client.close();
    }
  });

  it('keeps the replica with RFC 7047 monitor (update notifications) too', async () => {
    const client = await OvsdbClient.connect(server.tcp, {
      database: 'OVN_Northbound',
      monitorMethod: 'monitor',
    });
    try {
      const [first] = await client.transact([insert('Logical_Switch', { name: 'v1-first' })]);
      const monitor = await client.monitor({ Logical_Switch: ['name', 'external_ids', 'ports'] });
      expect(client.monitorMethodInUse).to.equal('monitor');
      expect(monitor.get('Logical_Switch', first.uuid)).to.deep.equal({
        _uuid: first.uuid,
        name: 'v1-first',
        external_ids: {},
        ports: [],
      });
      const changes: RowChange[] = [];
      monitor.on('change', (c) => changes.push(c));
      const [, ls] = await client.transact([
        insert('Logical_Switch_Port', { name: 'v1-p' }, 'p'),
        insert('Logical_Switch', { name: 'v1-second', ports: [namedUuid('p')] }),
      ]);
      await nbctl(server.unix, 'set', 'Logical_Switch', 'v1-second', 'external_ids:k=v');
      await nbctl(server.unix, 'ls-del', 'v1-first');
      await monitor.until('the three changes', () => (changes.length >= 3 ? true : undefined));
      expect(changes.map((c) => `${c.kind} ${asString((c.new ?? c.old)?.name)}`)).to.deep.equal([
        'insert v1-second',
        'modify v1-second',
        'delete v1-first',
      ]);
      const second = monitor.get('Logical_Switch', ls.uuid);
      expect(second?.external_ids).to.deep.equal({ k: 'v' });
      expect(second?.ports).to.have.length(1);
      expect(changes[1]?.old?.external_ids).to.deep.equal({});
    } finally {
      client.close();
    }
  });

  it('fails to connect with a clear error when no server listens', async () => {
    await server.signal('SIGKILL');
    const err = await rejection(OvsdbClient.connect(server.tcp, { database: 'OVN_Northbound' }));
    expect(err.message).to.match(new RegExp(`${server.tcp}: connect ECONNREFUSED`));
    await server.start();
    const err2 = await rejection(OvsdbClient.connect(server.tcp, { database: 'No_Such_DB' }));
    expect(err2.message).to.match(/No_Such_DB.*unknown database/);
  });
});
