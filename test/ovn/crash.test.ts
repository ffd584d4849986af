// kill -9 of `syncord serve` between two OVN writes, then a restart: the networks and ports
// converge with exactly one row of each kind, whichever write the crash followed (the first is a
// network's switch, before any of its ports). A first run counts the OVN write transactions of a
// convergence (failpoint log); then the process is killed after write k for several k, and a
// second process finishes the job. Each run is a deployment of its own (SYNCORD_INSTANCE) on the
// rig's OVN databases, and its rows are removed when the file is done.
import { expect } from 'chai';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ModelObject } from '../../models/service.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { exited, spawnServe } from '../support/serve.js';
import { eventually, rig, uniqueName, type RigEnv } from '../support/rig.js';
import { OvsdbClient, del } from '../../backends/ovn/ovsdb.js';

const exec = promisify(execFile);
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

/** Removes every root row a deployment left (its ports and router ports go with them). */
async function purgeInstance(endpoint: string, instance: string): Promise<void> {
  const nb = await OvsdbClient.connect(endpoint, { database: 'OVN_Northbound', reconnect: false });
  try {
    const where = [['external_ids', 'includes', { 'syncord-instance': instance }]] as const;
    await nb.transact(
      ['Logical_Switch', 'Logical_Router', 'DHCP_Options'].map((t) => del(t, where)),
    );
  } finally {
    nb.close();
  }
}

interface Run {
  db: ScratchDb;
  instance: string;
  networks: ModelObject[];
  ports: ModelObject[];
}

describe('ovn: kill -9 between OVN writes, then restart', function () {
  this.timeout(15 * 60_000);
  let env: RigEnv;
  const cleanup: (() => Promise<void>)[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
  });
  after(async function () {
    this.timeout(120_000);
    for (const c of cleanup) await c().catch(() => undefined);
  });

  const nbctl = async (...args: string[]) =>
    (await exec('ovn-nbctl', [`--db=${env.OVN_NB_DB}`, ...args])).stdout.trim();
  const lines = (text: string) => text.split('\n').filter(Boolean);

  function startServe(run: Run, extra: Record<string, string>): ChildProcess {
    return spawnServe({
      DATABASE_URL: run.db.url,
      SYNCORD_INSTANCE: run.instance,
      OVN_NB_DB: env.OVN_NB_DB,
      OVN_SB_DB: env.OVN_SB_DB,
      ...extra,
    });
  }

  /** A routed network with DHCP, a flat one, and two instances with a port on each. */
  async function newRun(): Promise<Run> {
    const db = await scratchDb();
    const instance = uniqueName('ovn-crash');
    const svc = db.service;
    const networks = [
      await svc.create('Network', {
        name: uniqueName('crash-left'),
        subnet: '10.91.0.0/24',
        dns_servers: '10.91.0.53',
      }),
      await svc.create('Network', {
        name: uniqueName('crash-right'),
        subnet: '10.92.0.0/24',
        type: 'FLAT',
        dhcp: false,
      }),
    ];
    const ports: ModelObject[] = [];
    const service = await svc.create('Service', { name: 'crash-svc' });
    for (const name of ['a', 'b']) {
      const si = await svc.create('ServiceInstance', { name, owner_id: service.id });
      for (const [i, net] of networks.entries()) {
        ports.push(
          await svc.create('Port', {
            network_id: net.id,
            service_instance_id: si.id,
            interface_name: `net${String(i + 1)}`,
          }),
        );
      }
    }
    cleanup.push(async () => {
      await purgeInstance(env.OVN_NB_DB, instance);
      await db.drop();
    });
    return { db, instance, networks, ports };
  }

  async function converged(run: Run): Promise<void> {
    await eventually(
      'every network and port synchronized',
      async () => {
        for (const [model, list] of [
          ['Network', run.networks],
          ['Port', run.ports],
        ] as const) {
          for (const o of list) {
            const now = await run.db.service.get(model, o.id);
            if (now.backend_code !== 1 || now.synced_version !== now.version) return undefined;
          }
        }
        return true;
      },
      90_000,
    );
  }

  /** Exactly one row of each kind, read back with ovn-nbctl, and nothing else of the run's. */
  async function assertExact(run: Run): Promise<void> {
    const of = (...pairs: string[]) => [
      `external_ids:syncord-instance=${run.instance}`,
      ...pairs.map((p) => `external_ids:${p}`),
    ];
    const find = async (table: string, ...pairs: string[]) =>
      lines(await nbctl('--bare', '--columns=_uuid', 'find', table, ...of(...pairs)));
    const [left, right] = run.networks as [ModelObject, ModelObject];
    const switches = new Map<number, string>();
    for (const net of run.networks) {
      const ls = await find(
        'Logical_Switch',
        'syncord-model=Network',
        `syncord-id=${String(net.id)}`,
      );
      expect(ls, `switches of ${net.name as string}`).to.have.length(1);
      switches.set(net.id, ls[0]!);
      expect(await nbctl('--bare', 'get', 'Logical_Switch', ls[0]!, 'name')).to.equal(
        `syncord-${net.name as string}`,
      );
    }
    expect(await find('Logical_Switch')).to.have.length(2);
    expect(await find('DHCP_Options', `syncord-id=${String(left.id)}`)).to.have.length(1);
    expect(await find('DHCP_Options')).to.have.length(1);
    expect(await find('Logical_Router', 'syncord-role=router')).to.have.length(1);
    expect(await find('Logical_Router_Port')).to.have.length(1);
    expect(await find('Logical_Router_Port', `syncord-id=${String(right.id)}`)).to.have.length(0);
    // Four ports and the routed network's router connection; each port on its switch.
    expect(await find('Logical_Switch_Port')).to.have.length(run.ports.length + 1);
    for (const p of run.ports) {
      const rows = await find(
        'Logical_Switch_Port',
        'syncord-model=Port',
        `syncord-id=${String(p.id)}`,
      );
      expect(rows, `switch ports of Port ${String(p.id)}`).to.have.length(1);
      const name = `syncord-${run.instance}-port-${String(p.id)}`;
      expect(await nbctl('lsp-get-ls', name)).to.include(switches.get(p.network_id as number)!);
      const now = await run.db.service.get('Port', p.id);
      expect(await nbctl('lsp-get-addresses', name)).to.equal(
        `${now.mac as string} ${now.ip as string}`,
      );
    }
  }

  let writes = 0;

  it('converges once, counting its OVN writes', async () => {
    const run = await newRun();
    const dir = mkdtempSync(join(tmpdir(), 'syncord-failpoints-'));
    const logFile = join(dir, 'log');
    const t0 = Date.now();
    const child = startServe(run, { SYNCORD_FAILPOINT_LOG: logFile });
    try {
      await converged(run);
      process.stderr.write(
        `      (convergence of 2 networks and 4 ports: ${String(Date.now() - t0)} ms, start included)\n`,
      );
      await assertExact(run);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
    writes = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l === 'ovn-write').length;
    rmSync(dir, { recursive: true, force: true });
    expect(writes).to.be.at.least(6); // 2 networks, 4 ports
    process.stderr.write(`      (a convergence made ${String(writes)} OVN write transactions)\n`);
  });

  for (const where of ['first', 'second', 'middle', 'next to last', 'last'] as const) {
    const what = where === 'first' ? ' (a switch, before its ports)' : '';
    it(`a crash after the ${where} OVN write${what} leaves no duplicate and no leak after a restart`, async function () {
      if (writes === 0) this.skip(); // the counting run failed: its error says why
      const k = {
        first: 1,
        second: 2,
        middle: Math.ceil(writes / 2),
        'next to last': writes - 1,
        last: writes,
      }[where];
      const run = await newRun();
      const crashing = startServe(run, { SYNCORD_FAILPOINT: `ovn-write:${String(k)}` });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        exited(crashing),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`no crash at OVN write ${String(k)} within 60 s`));
          }, 60_000);
        }),
      ])
        .catch((err: unknown) => {
          crashing.kill('SIGKILL');
          throw err;
        })
        .finally(() => {
          clearTimeout(timer);
        });
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
