// A recipe end to end on the rig: `syncord tosca apply` (a process) into a scratch database that
// `syncord serve` (another process, with the Kubernetes and OVN steps) synchronizes; every object
// of the recipe reaches ok and the VNF's pod runs with its three interfaces; `syncord tosca
// delete` then takes it all down until every object is reaped. The recipe's names carry this
// run's id, so runs on one rig do not meet.
import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually, rig } from '../support/rig.js';
import { exited } from '../support/serve.js';

const exec = promisify(execFile);

describe('tosca: a recipe converges through the synchronizer, and deletes cleanly', function () {
  this.timeout(180_000);
  const run = `t${String(process.pid)}`;
  let db: ScratchDb;
  let serve: ChildProcess | undefined;
  let dir: string;
  let recipe: string;

  before(async function () {
    this.timeout(45 * 60_000);
    await rig();
    db = await scratchDb();
    dir = mkdtempSync(join(tmpdir(), 'syncord-tosca-'));
    // This run's names: the trust domain (a namespace) and every other name get its id.
    recipe = join(dir, 'vnf.yaml');
    writeFileSync(
      recipe,
      readFileSync('examples/tosca/vnf-three-interfaces.yaml', 'utf8')
        .replaceAll('fw2', `fw2-${run}`)
        .replaceAll('tenant-fw', `tenant-fw-${run}`)
        .replaceAll('firewall-2', `firewall-2-${run}`)
        .replaceAll('co-fw2', `co-fw2-${run}`)
        .replaceAll('acme/firewall', `acme/firewall-${run}`),
    );
    serve = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'cli/syncord.ts',
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--api-listen',
        'off',
        '--resync',
        '10',
      ],
      {
        env: { ...process.env, DATABASE_URL: db.url, SYNCORD_INSTANCE: `tosca-${run}` },
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
  });
  after(async () => {
    if (serve && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await exited(serve);
    }
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const syncord = (...args: string[]) =>
    exec(process.execPath, ['--import', 'tsx', 'cli/syncord.ts', ...args], {
      env: { ...process.env, DATABASE_URL: db.url },
    });

  it('applies, converges (pod Running with three interfaces), re-applies as a no-op, deletes', async () => {
    const applied = await syncord('tosca', 'apply', recipe);
    expect(applied.stdout).to.match(/12 created/);
    // Models with a step reach ok (Site, Image and Service have none: they stay pending).
    const withSteps = ['trust_domain', 'network', 'service_instance', 'port'];
    const pending = async () => {
      const out: string[] = [];
      for (const t of withSteps) {
        const r = await db.sql.query<{ n: string; why: string | null }>(
          `SELECT count(*) AS n, max(backend_status) AS why FROM "${t}"
            WHERE deleted_at IS NULL AND NOT (backend_code = 1 AND synced_version = version)`,
        );
        if (Number(r.rows[0]!.n)) out.push(`${t}: ${r.rows[0]!.n} (${String(r.rows[0]!.why)})`);
      }
      return out;
    };
    let left: string[] = [];
    try {
      await eventually(
        'the recipe synchronized',
        async () => {
          left = await pending();
          return left.length === 0 ? true : undefined;
        },
        120_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${left.join('; ')}`, { cause: err });
    }
    const vnf = await db.sql.query<{ pod_phase: string; n: string }>(
      `SELECT si.pod_phase, (SELECT count(*) FROM port p WHERE p.service_instance_id = si.id
                              AND p.observed_interface IS NOT NULL) AS n
         FROM service_instance si WHERE si.name = $1`,
      [`fw2-${run}-1`],
    );
    expect(vnf.rows[0]).to.deep.equal({ pod_phase: 'Running', n: '3' });
    const again = await syncord('tosca', 'apply', recipe);
    expect(again.stdout).to.match(/12 unchanged/);

    const removed = await syncord('tosca', 'delete', recipe);
    expect(removed.stdout).to.match(/12 deleted/);
    await eventually(
      'everything reaped',
      async () => {
        const r = await db.sql.query<{ n: string }>(
          `SELECT (SELECT count(*) FROM service_instance) + (SELECT count(*) FROM port)
                + (SELECT count(*) FROM network) + (SELECT count(*) FROM trust_domain) AS n`,
        );
        return r.rows[0]!.n === '0' ? true : undefined;
      },
      120_000,
    );
  });
});
