// Smoke test of the rig's OVN central: a logical switch written to the northbound database over
// OVSDB JSON-RPC (RFC 7047) is seen by ovn-nbctl, and ovn-northd turns it into a southbound
// Datapath_Binding; deleting the switch removes the binding.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { JsonRpcConnection, type Json } from '../../backends/ovn/jsonrpc.js';
import { eventually, rig, uniqueName, type RigEnv } from '../support/rig.js';

const exec = promisify(execFile);

async function sbDatapaths(env: RigEnv, switchName: string): Promise<string> {
  const { stdout } = await exec('ovn-sbctl', [
    `--db=${env.OVN_SB_DB}`,
    '--columns=_uuid',
    '--bare',
    'find',
    'Datapath_Binding',
    `external_ids:name=${switchName}`,
  ]);
  return stdout.trim();
}

describe('rig: OVN', function () {
  let env: RigEnv;
  let nb: JsonRpcConnection;

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;
    nb = await JsonRpcConnection.connect(env.OVN_NB_DB);
  });

  after(() => {
    nb.close();
  });

  it('serves the OVN_Northbound database on OVN_NB_DB', async () => {
    const dbs = (await nb.request('list_dbs', [])) as string[];
    expect(dbs).to.include('OVN_Northbound');
  });

  it('turns a logical switch written over OVSDB into a southbound datapath', async () => {
    const name = uniqueName('ls-smoke');
    const insert = (await nb.request('transact', [
      'OVN_Northbound',
      {
        op: 'insert',
        table: 'Logical_Switch',
        row: {
          name,
          other_config: ['map', [['subnet', '10.20.0.0/24']]],
          external_ids: ['map', [['syncord-id', 'smoke']]],
        },
        'uuid-name': 'ls',
      },
    ])) as { uuid?: [string, string]; error?: string }[];
    expect(insert[0]?.error).to.equal(undefined);
    const uuid = insert[0]?.uuid?.[1] ?? '';
    expect(uuid).to.match(/^[0-9a-f-]{36}$/);

    const { stdout } = await exec('ovn-nbctl', [
      `--db=${env.OVN_NB_DB}`,
      'get',
      'Logical_Switch',
      name,
      'other_config:subnet',
    ]);
    expect(stdout.trim()).to.equal('"10.20.0.0/24"');

    const datapath = await eventually(
      'northd to bind a datapath',
      async () => (await sbDatapaths(env, name)) || undefined,
    );
    expect(datapath).to.match(/^[0-9a-f-]{36}$/);

    const del = (await nb.request('transact', [
      'OVN_Northbound',
      { op: 'delete', table: 'Logical_Switch', where: [['_uuid', '==', ['uuid', uuid]]] },
    ] as Json[])) as { count?: number }[];
    expect(del[0]?.count).to.equal(1);
    await eventually('northd to remove the datapath', async () =>
      (await sbDatapaths(env, name)) === '' ? true : undefined,
    );
  });

  it('answers a transaction that breaks the schema with an error and writes nothing', async () => {
    const name = uniqueName('ls-bad');
    const result = (await nb.request('transact', [
      'OVN_Northbound',
      { op: 'insert', table: 'Logical_Switch', row: { name, no_such_column: 1 } },
    ])) as { error?: string }[];
    expect(result.some((r) => r.error)).to.equal(true);
    const { stdout } = await exec('ovn-nbctl', [
      `--db=${env.OVN_NB_DB}`,
      '--bare',
      '--columns=name',
      'find',
      'Logical_Switch',
      `name=${name}`,
    ]);
    expect(stdout.trim()).to.equal('');
  });
});
