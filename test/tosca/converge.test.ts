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
import { adminSession, clusterFields, openstackEnv, type OsEnv } from '../support/openstack.js';
import { Nova } from '../../backends/openstack/resources.js';
import YAML from 'yaml';

const exec = promisify(execFile);

/** The examples that converge on the rig today, with their templates and pods. */
const EXAMPLES = [
  { file: 'vnf-three-interfaces.yaml', templates: 12, pods: ['fw2-1'] },
  {
    file: 'vsg-chain.yaml',
    templates: 17,
    pods: ['vsg-subscriber-1', 'vsg-subscriber-2', 'fw-rcord-1'],
  },
  // A container VNF and a VM VNF on shared networks. The recipe names no Cluster (where VMs run
  // is the operator's): the test adds the rig's OpenStack as one and puts the slice on it, so
  // the VM VNF is a Nova server and the pod runs on the default Kubernetes cluster.
  { file: 'hybrid-chain.yaml', templates: 16, pods: ['dpi-1'], vms: ['router-vm-1'] },
];

/**
 * The recipe with the rig's OpenStack as a Cluster template, its slices on that Cluster and its VM
 * images mapped to the rig's Glance image.
 */
function onOpenStack(text: string, os: OsEnv, run: string): string {
  const doc = YAML.parse(text) as {
    topology_template: {
      node_templates: Record<
        string,
        { type: string; properties?: Record<string, unknown>; requirements?: object[] }
      >;
    };
  };
  const nodes = doc.topology_template.node_templates;
  const cluster = `cluster#openstack-${run}`;
  // Named by the template (cluster#...), not by a property.
  const properties = clusterFields(os, cluster);
  delete properties.name;
  nodes[cluster] = { type: 'tosca.nodes.Cluster', properties };
  for (const node of Object.values(nodes)) {
    // The rig's Glance holds one image, cirros: the VM images are found there by `path`.
    if (node.type === 'tosca.nodes.Image' && node.properties?.kind === 'vm') {
      node.properties.path = 'cirros';
    }
    if (node.type === 'tosca.nodes.Slice') {
      node.requirements = [...(node.requirements ?? []), { cluster: { node: cluster } }];
    }
  }
  return `tosca_definitions_version: tosca_simple_yaml_1_0\n${YAML.stringify(doc)}`.replace(
    /^(tosca_definitions_version: .*\n)tosca_definitions_version: .*\n/,
    '$1',
  );
}

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
    it(`${example.file}: applies, converges (pods Running with their interfaces${example.vms ? ', VMs ACTIVE on OpenStack' : ''}), re-applies as a no-op, deletes`, async function () {
      const recipe = join(dir, example.file);
      let text = uniquify(readFileSync(join('examples/tosca', example.file), 'utf8'), run);
      if (example.vms) {
        const os = openstackEnv();
        if (!os) {
          process.stderr.write(
            `[test] ${example.file}: skipped: its VM VNF needs OpenStack, and the rig runs without it (rig/rig up --with openstack)\n`,
          );
          this.skip();
        }
        text = onOpenStack(text, os, run);
      }
      writeFileSync(recipe, text);
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
      if (example.vms) {
        const vms = await db.sql.query<{ name: string; vm_status: string; ports: string }>(
          `SELECT si.name, si.vm_status,
                  (SELECT count(*) FROM port p WHERE p.service_instance_id = si.id
                      AND p.port_id IS NOT NULL AND p.observed_ip = p.ip) AS ports
             FROM service_instance si WHERE si.name = ANY($1) ORDER BY si.name`,
          [example.vms],
        );
        expect(vms.rows.map((r) => [r.name, r.vm_status, r.ports])).to.deep.equal(
          example.vms.map((name) => [name, 'ACTIVE', '2']),
        );
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
      if (example.vms) {
        // The servers went with their instances.
        const os = openstackEnv()!;
        const servers = await new Nova(adminSession(os)).servers({
          tags: `syncord-instance=tosca-${run}`,
          all_tenants: true,
        });
        expect(servers.map((s) => s.name)).to.deep.equal([]);
      }
    });
  }
});
