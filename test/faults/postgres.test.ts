// PostgreSQL restarted under `syncord serve` while it is synchronizing (issue 13): a private
// PostgreSQL (the embedded server, on a temporary data directory and a fixed port, so it comes
// back at the same address with its data) and a private backend: the reference VTN server, or an
// OVN northbound ovsdb-server. `syncord serve` runs as a child process and reaches the backend
// through a proxy of ours that slows every chunk by 40 ms, so that pushing the ports takes long
// enough to stop PostgreSQL (fast shutdown) in the middle of it. The server stays down, then starts
// again. Serve must stay up, reconnect, lead again and converge: every model committed before the
// stop is in the backend, exactly once, and a later edit still gets there.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asStringMap, asStringSet, OvsdbClient, select } from '../../backends/ovn/ovsdb.js';
import { VtnClient } from '../../backends/vtn/client.js';
import { migrate, openDataSource } from '../../models/datasource.js';
import { startEmbedded, type EmbeddedServer } from '../../models/embedded.js';
import { defaultRegistry } from '../../models/index.js';
import { listAll, ModelService, type ModelObject } from '../../models/service.js';
import { vtnNetworkId, vtnPortId } from '../../steps/vtn/index.js';
import { PrivateOvsdb } from '../ovn/private-ovsdb.js';
import { TcpProxy } from '../support/proxy.js';
import { rig, sleep, uniqueName } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';
import { spawnVtn } from '../support/vtn.js';
import { freePort } from '../support/rig.js';
import { FULL } from './support.js';

process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

const DOWN_MS = FULL ? 30_000 : 10_000;
const PORTS = 200;

/** A private backend as serve and the test see it. */
interface Backend {
  /** The environment serve gets for it (the other backends' variables unset). */
  env: Record<string, string | undefined>;
  /** The port objects of the instance it holds. */
  portsIn(): Promise<number>;
  /** Exactly these networks and ports (with their addresses), nothing else of the instance. */
  expectExactly(networks: ModelObject[], ports: ModelObject[]): Promise<void>;
  /** An edit of a network, and whether it shows in the backend. */
  edit: { values: Record<string, unknown>; shows(network: ModelObject): Promise<boolean> };
  close(): Promise<void>;
}

async function vtnBackend(dir: string, instance: string, models: ModelService): Promise<Backend> {
  const vtn = await spawnVtn({ state: join(dir, 'vtn.json') });
  const client = new VtnClient(vtn.address, { deadlineMs: 3000 });
  const [host, port] = vtn.address.split(':') as [string, string];
  const slow = await TcpProxy.start(host, Number(port));
  slow.delay(40);
  const mine = { 'syncord-instance': instance };
  return {
    env: {
      SYNCORD_VTN_ADDRESS: slow.address,
      SYNCORD_VTN_CA: undefined,
      OVN_NB_DB: undefined,
      OVN_SB_DB: undefined,
    },
    portsIn: async () => (await client.listPorts(mine)).length,
    async expectExactly(networks, ports) {
      const nets = await client.listNetworks(mine);
      expect(nets.map((n) => n.id).sort()).to.deep.equal(
        networks.map((n) => vtnNetworkId(instance, n.id)).sort(),
      );
      const vports = await client.listPorts(mine);
      expect(vports, 'VTN ports').to.have.length(ports.length);
      expect(vports.map((p) => p.id).sort()).to.deep.equal(
        ports.map((p) => vtnPortId(instance, p.id)).sort(),
      );
      const byId = new Map(vports.map((p) => [p.id, p]));
      for (const p of ports) {
        const now = await models.get('Port', p.id);
        expect(byId.get(vtnPortId(instance, p.id))).to.deep.include({
          network_id: vtnNetworkId(instance, now.network_id as number),
          mac_address: String(now.mac).toUpperCase(),
          ip_address: now.ip,
        });
      }
    },
    edit: {
      values: { type: 'FLAT' },
      shows: async (net) =>
        (await client.listNetworks(mine)).find((x) => x.id === vtnNetworkId(instance, net.id))
          ?.type === 'FLAT',
    },
    async close() {
      client.close();
      await slow.close();
      await vtn.stop('SIGKILL');
    },
  };
}

async function ovnBackend(instance: string, models: ModelService): Promise<Backend> {
  const server = await PrivateOvsdb.create();
  await server.start();
  const slow = await TcpProxy.start('127.0.0.1', server.port);
  slow.delay(40);
  const rows = async (table: string) => {
    const nb = await OvsdbClient.connect(server.tcp, {
      database: 'OVN_Northbound',
      reconnect: false,
    });
    try {
      const where = [['external_ids', 'includes', { 'syncord-instance': instance }]] as const;
      const [r] = await nb.transact([select(table, where)]);
      return r.rows;
    } finally {
      nb.close();
    }
  };
  const ofModel = async (table: string, model: string) =>
    (await rows(table)).filter((r) => asStringMap(r.external_ids)['syncord-model'] === model);
  return {
    env: {
      OVN_NB_DB: `tcp:${slow.address}`,
      OVN_SB_DB: undefined,
      SYNCORD_VTN_ADDRESS: undefined,
    },
    portsIn: async () => (await ofModel('Logical_Switch_Port', 'Port')).length,
    async expectExactly(networks, ports) {
      const ls = await ofModel('Logical_Switch', 'Network');
      expect(ls.map((r) => Number(asStringMap(r.external_ids)['syncord-id'])).sort()).to.deep.equal(
        networks.map((n) => n.id).sort(),
      );
      const lsps = await ofModel('Logical_Switch_Port', 'Port');
      expect(lsps, 'logical switch ports').to.have.length(ports.length);
      const byId = new Map(lsps.map((r) => [Number(asStringMap(r.external_ids)['syncord-id']), r]));
      expect([...byId.keys()].sort((a, b) => a - b)).to.deep.equal(
        ports.map((p) => p.id).sort((a, b) => a - b),
      );
      for (const p of ports) {
        const now = await models.get('Port', p.id);
        expect(asStringSet(byId.get(p.id)?.addresses)).to.deep.equal([
          `${now.mac as string} ${now.ip as string}`,
        ]);
      }
    },
    edit: {
      values: { exclude_ips: '10.66.0.240..10.66.0.250' },
      shows: async (net) =>
        (await ofModel('Logical_Switch', 'Network')).some(
          (r) =>
            asStringMap(r.external_ids)['syncord-id'] === String(net.id) &&
            (asStringMap(r.other_config).exclude_ips ?? '').includes('10.66.0.240..10.66.0.250'),
        ),
    },
    async close() {
      await slow.close();
      await server.destroy();
    },
  };
}

describe(`faults: PostgreSQL restarted mid-sync under syncord serve (down ${String(DOWN_MS / 1000)} s${FULL ? '' : '; SYNCORD_FAULTS_FULL=1: 30 s'})`, function () {
  this.timeout(10 * 60_000);

  before(async function () {
    this.timeout(45 * 60_000);
    await rig(); // the environment's KUBECONFIG etc. for the serve child's other steps
  });

  for (const kind of ['VTN', 'OVN'] as const) {
    describe(`with ${kind} as the backend`, () => {
      let dir: string | undefined;
      let pgServer: EmbeddedServer | undefined;
      let backend: Backend | undefined;
      let serve: ChildProcess | undefined;
      let svc: ModelService | undefined;
      const out: string[] = [];

      after(async function () {
        this.timeout(120_000);
        if (serve) {
          serve.kill('SIGTERM');
          const killer = setTimeout(() => serve?.kill('SIGKILL'), 15_000);
          await exited(serve);
          clearTimeout(killer);
        }
        await svc?.close().catch(() => undefined);
        await backend?.close();
        await pgServer?.stop().catch(() => undefined);
        if (dir) await rm(dir, { recursive: true, force: true });
      });
      afterEach(function () {
        if (this.currentTest?.state === 'failed') console.log(out.slice(-60).join('\n'));
      });

      it(`fault: PostgreSQL stopped (fast) while ports are pushed to ${kind}, then started: serve stays up, reconnects and converges; no loss, no duplicate`, async () => {
        dir = await mkdtemp(join(tmpdir(), 'syncord-fault-pg-'));
        // As root the server runs as `postgres`, which must reach the data directory's parent.
        if (process.getuid?.() === 0) await chmod(dir, 0o755);
        const dataDir = join(dir, 'postgres');
        const port = await freePort();
        pgServer = await startEmbedded({ dataDir, port });
        const url = pgServer.url;
        const registry = defaultRegistry();
        const ds = await openDataSource(url, registry, { poolSize: 1 });
        await migrate(ds);
        await ds.destroy();
        svc = new ModelService(url, registry, { poolSize: 4 });
        const models = svc;
        const instance = uniqueName('fault-pg');
        backend =
          kind === 'VTN'
            ? await vtnBackend(dir, instance, models)
            : await ovnBackend(instance, models);
        const be = backend;

        serve = spawnServe(
          { DATABASE_URL: url, SYNCORD_INSTANCE: instance, ...be.env },
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        const child = serve;
        let exit: string | undefined;
        child.once('exit', (code, signal) => {
          exit = `exited with ${String(code)} (${String(signal)})`;
        });
        for (const stream of [child.stdout, child.stderr]) {
          stream?.on('data', (d: Buffer) => {
            for (const l of d.toString().split('\n')) {
              if (l) out.push(`${new Date().toISOString()} ${l}`);
            }
          });
        }
        // Serve exiting, or its synchronizer giving up while serve runs on, fails at once.
        const alive = () => {
          if (exit) throw new Error(`syncord serve ${exit}: ${out.slice(-15).join(' | ')}`);
          const gaveUp = out.find((l) => /synchronizer failed/.test(l));
          if (gaveUp) {
            throw new Error(
              `syncord serve's synchronizer stopped for good (it no longer synchronizes, though serve runs on): ${gaveUp}`,
            );
          }
        };
        /** Polls check() until it gives a value; serve exiting or giving up fails at once. */
        const poll = async <T>(what: string, check: () => Promise<T | undefined>, ms: number) => {
          const deadline = Date.now() + ms;
          let last = '';
          for (;;) {
            alive();
            const v = await check().catch((err: unknown) => {
              last = String(err);
              return undefined;
            });
            if (v !== undefined) return v;
            if (Date.now() > deadline) {
              throw new Error(`timed out after ${String(ms)} ms waiting for ${what} ${last}`);
            }
            await sleep(200);
          }
        };
        const httpUrl = await poll(
          'syncord serve listening',
          () => {
            const m = out.map((l) => /serving \/healthz.* on (http:\/\/\S+)/.exec(l)).find(Boolean);
            return Promise.resolve(m?.[1]);
          },
          60_000,
        );
        await poll(
          'syncord serve leading',
          () =>
            Promise.resolve(out.some((l) => /synchronizing with \d+ steps/.test(l)) || undefined),
          30_000,
        );

        // Two networks and many ports, committed; the server stops while they are being pushed.
        const service = await models.create('Service', { name: `${instance}-svc` });
        const si = await models.create('ServiceInstance', {
          name: `${instance}-si`,
          owner_id: service.id,
        });
        const networks = [
          await models.create('Network', {
            name: `${instance}-a`,
            subnet: '10.65.0.0/24',
            segment_id: 6501,
          }),
          await models.create('Network', {
            name: `${instance}-b`,
            subnet: '10.66.0.0/24',
            segment_id: 6601,
          }),
        ];
        const ports: ModelObject[] = await models.createMany(
          'Port',
          Array.from({ length: PORTS }, (_, i) => ({
            network_id: networks[i % 2]!.id,
            service_instance_id: si.id,
          })),
        );
        // Stopped as soon as the first ports reach the backend, so that the rest are in flight.
        let pushedAtStop = 0;
        for (const deadline = Date.now() + 60_000; pushedAtStop === 0;) {
          alive();
          if (Date.now() > deadline) throw new Error(`no port reached ${kind} in 60 s`);
          pushedAtStop = await be.portsIn();
        }
        await pgServer.stop();
        const down = Date.now();
        const atStop = await be.portsIn();
        console.log(
          `      (PostgreSQL stopped with ${String(pushedAtStop)}..${String(atStop)} of ${String(PORTS)} ports in ${kind})`,
        );
        // Down for a while: serve must stay up (its readiness may say the database is unreachable).
        let readyWhileDown = '';
        while (Date.now() - down < DOWN_MS) {
          alive();
          readyWhileDown = await fetch(`${httpUrl}/readyz`)
            .then(async (r) => `${String(r.status)} ${await r.text()}`)
            .catch((err: unknown) => `no answer: ${String(err)}`);
          await sleep(1000);
        }
        alive();
        console.log(`      (/readyz while down: ${readyWhileDown.trim()})`);
        pgServer = await startEmbedded({ dataDir, port });
        expect(pgServer.url).to.equal(url);
        const up = Date.now();

        // Converges: every network and port synchronized at its version, serve leading again.
        await poll(
          'every network and port synchronized after the restart',
          async () => {
            const r = await fetch(`${httpUrl}/readyz`);
            if (r.status !== 200 || !/leading/.test(await r.text())) return undefined;
            for (const model of ['Network', 'Port']) {
              for (const o of await listAll(models, model)) {
                if (o.backend_code !== 1 || o.synced_version !== o.version) return undefined;
              }
            }
            return true;
          },
          120_000,
        ).catch(async (err: unknown) => {
          const stuck = (await listAll(models, 'Port')).filter(
            (o) => o.backend_code !== 1 || o.synced_version !== o.version,
          );
          throw new Error(
            `${(err as Error).message}; ${String(stuck.length)} ports not synced, e.g. ${stuck
              .slice(0, 3)
              .map(
                (o) => `${String(o.id)}: [${String(o.backend_code)}] ${String(o.backend_status)}`,
              )
              .join('; ')}`,
            { cause: err },
          );
        });
        console.log(`      (converged ${String(Date.now() - up)} ms after PostgreSQL came back)`);

        // The backend: exactly the models' networks and ports, once each.
        expect(pushedAtStop, 'the stop came while ports were still being pushed').to.be.below(
          PORTS,
        );
        await be.expectExactly(networks, ports);
        // And it still works: an edit after the restart reaches the backend.
        await models.update('Network', networks[1]!.id, be.edit.values);
        await poll(
          `an edit after the restart in ${kind}`,
          async () => ((await be.edit.shows(networks[1]!)) ? true : undefined),
          30_000,
        );
        expect(out.join('\n')).to.not.match(/unhandled|uncaught/i);
      });
    });
  }
});
