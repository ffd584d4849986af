// A recipe end to end on the rig: `syncord tosca apply` (a process) into a scratch database that
// `syncord serve` (another process, with the Kubernetes and OVN steps) synchronizes; every object
// of the recipe reaches ok and the VNF's pod runs with its three interfaces; `syncord tosca
// delete` then takes it all down until every object is reaped. The recipe's names carry this
// run's id, so runs on one rig do not meet.
import { expect } from 'chai';
import { execFile, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually, rig } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';
import { uniquify } from '../support/tosca.js';

const exec = promisify(execFile);

/** The examples that converge on the rig today, with their templates and pods. */
const EXAMPLES = [
  { file: 'vnf-three-interfaces.yaml', templates: 12, pods: ['fw2-1'] },
  {
    file: 'vsg-chain.yaml',
    templates: 17,
    pods: ['vsg-subscriber-1', 'vsg-subscriber-2', 'fw-rcord-1'],
  },
  // hybrid-chain.yaml has a VM VNF: it converges once VMs do (issue 11), skipped below.
];

describe('tosca: recipes converge through the synchronizer, and delete cleanly', function () {
  this.timeout(180_000);
  const run = `t${String(process.pid)}`;
  let db: ScratchDb;
  let serve: ChildProcess | undefined;
  let dir: string;

  before(async function () {
    this.timeout(45 * 60_000);
    await rig();
    db = await scratchDb();
    dir = mkdtempSync(join(tmpdir(), 'syncord-tosca-'));
    serve = spawnServe(
      { DATABASE_URL: db.url, SYNCORD_INSTANCE: `tosca-${run}` },
      { args: ['--api-listen', 'off', '--resync', '10'] },
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

  for (const example of EXAMPLES) {
    it(`${example.file}: applies, converges (pods Running with their interfaces), re-applies as a no-op, deletes`, async () => {
      const recipe = join(dir, example.file);
      writeFileSync(
        recipe,
        uniquify(readFileSync(join('examples/tosca', example.file), 'utf8'), run),
      );
      const applied = await syncord('tosca', 'apply', recipe);
      expect(applied.stdout).to.match(new RegExp(`${String(example.templates)} created`));
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
      const pods = await db.sql.query<{
        name: string;
        pod_phase: string;
        ports: string;
        up: string;
      }>(
        `SELECT si.name, si.pod_phase,
                (SELECT count(*) FROM port p WHERE p.service_instance_id = si.id AND p.deleted_at IS NULL) AS ports,
                (SELECT count(*) FROM port p WHERE p.service_instance_id = si.id AND p.deleted_at IS NULL
                    AND p.observed_interface IS NOT NULL) AS up
           FROM service_instance si WHERE si.name = ANY($1) ORDER BY si.name`,
        [example.pods],
      );
      expect(pods.rows.map((r) => r.name)).to.have.members(example.pods);
      for (const r of pods.rows) {
        expect(r.pod_phase, r.name).to.equal('Running');
        expect(Number(r.ports), r.name).to.be.greaterThan(0);
        expect(r.up, `${r.name}: every interface reported`).to.equal(r.ports);
      }
      const again = await syncord('tosca', 'apply', recipe);
      expect(again.stdout).to.match(new RegExp(`${String(example.templates)} unchanged`));

      const removed = await syncord('tosca', 'delete', recipe);
      expect(removed.stdout).to.match(new RegExp(`${String(example.templates)} deleted`));
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
  }

  it('hybrid-chain.yaml: converges with its VM VNF on OpenStack', function () {
    // It applies, re-applies and deletes (test/tosca/recipes.test.ts); its VM VNF has no step
    // until VMs land (issue 11), so it stays pending and the chain cannot converge yet.
    this.skip();
  });
});
