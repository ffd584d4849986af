// `syncord get | list | create | update | delete | models | describe` as a user runs them: the CLI
// as a subprocess on a scratch database, asserting what it prints and its exit code. Each run
// costs about a second, so independent runs go in parallel and checks share runs.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import YAML from 'yaml';
import type { ModelObject } from '../../models/service.js';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';

const projectDir = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('cli: model commands', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let base: Awaited<ReturnType<typeof baseObjects>>;
  const nets: Record<string, ModelObject> = {};

  function syncord(args: string[], input?: string): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'cli/syncord.ts', ...args], {
        cwd: projectDir,
        env: { ...process.env, DATABASE_URL: db.url },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(input ?? '');
    });
  }

  /** A run that must succeed; its output otherwise shows in the failure. */
  async function ok(args: string[], input?: string): Promise<Run> {
    const r = await syncord(args, input);
    expect(r.code, `syncord ${args.join(' ')}\n${r.stderr}`).to.equal(0);
    return r;
  }

  before(async function () {
    this.timeout(120_000);
    db = await scratchDb();
    base = await baseObjects(db.service, 'cli');
    const plan: [string, string, string][] = [
      ['net-a', '10.20.1.0/24', 'PRIVATE'],
      ['net-b', '10.20.2.0/24', 'PUBLIC'],
      ['net-c', '10.20.3.0/24', 'PUBLIC'],
      ['net-d', '10.20.4.0/24', 'PRIVATE'],
      ['net-e', '10.20.5.0/24', 'PUBLIC'],
    ];
    for (const [name, subnet, type] of plan) {
      nets[name] = await db.service.create('Network', { name, subnet, type });
    }
    await db.service.setStatus('Network', nets['net-a']!.id, { backend_code: 1 });
    await db.service.setStatus('Network', nets['net-b']!.id, {
      backend_code: 2,
      backend_status: 'switch refused\nmore detail',
    });
    await db.service.setStatus('Network', nets['net-c']!.id, {
      backend_code: 2,
      backend_status: 'northd unreachable',
      next_attempt_at: '2030-01-02T03:04:05.678Z',
    });
  });

  after(async () => {
    await db.drop();
  });

  it('creates an object with a reference by name, and gets it back by name and by id', async () => {
    const created = await ok([
      'create',
      'network',
      'name=cli-mgmt',
      'subnet=10.9.0.0/24',
      'owner=cli-slice',
      'mtu=1450',
      'dhcp=false',
      '-o',
      'json',
    ]);
    const obj = JSON.parse(created.stdout) as ModelObject;
    expect(obj).to.include({
      name: 'cli-mgmt',
      leaf_model: 'Network',
      owner_id: base.slice.id,
      mtu: 1450,
      dhcp: false,
      version: 1,
    });
    const [byName, byId] = await Promise.all([
      ok(['get', 'Network', 'cli-mgmt', '-o', 'json']),
      ok(['get', 'NETWORK', String(obj.id), '-o', 'yaml']),
    ]);
    expect(JSON.parse(byName.stdout)).to.deep.equal(obj);
    expect(YAML.parse(byId.stdout)).to.deep.equal(obj);
    expect(await db.service.get('Network', obj.id)).to.deep.equal(obj);
  });

  it('lists as a table with a header, key fields and the synchronizer status', async () => {
    const r = await ok(['list', 'network']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^ID\s+NAME\s+KIND\s+SUBNET\s+.*\bSTATUS\s+VERSION$/);
    const row = (name: string) => lines.find((l) => l.split(/\s+/)[1] === name) ?? '';
    expect(row('net-a')).to.match(/^\d+\s+net-a\s+Network\s+10\.20\.1\.0\/24\s.*\sok\s+1$/);
    expect(row('net-b')).to.match(/\serror: switch refused\s+1$/);
    expect(row('net-c')).to.match(
      /\sretrying at 2030-01-02T03:04:05Z \(error: northd unreachable\)\s+1$/,
    );
    expect(row('net-d')).to.match(/\spending\s+1$/);
  });

  it('filters, sorts and pages, one page by default and every page with --all', async () => {
    const [filtered, firstPage, allPages] = await Promise.all([
      ok([
        'list',
        'networks',
        '--filter',
        'type=PUBLIC',
        '--filter',
        'name~net-',
        '--sort',
        '-name',
        '-o',
        'json',
      ]),
      ok(['list', 'network', '--filter', 'name~net-', '--limit', '2']),
      ok(['list', 'network', '--limit', '2', '--all', '--sort', 'name', '-o', 'json']),
    ]);
    const names = (r: Run) => (JSON.parse(r.stdout) as ModelObject[]).map((o) => o.name);
    expect(names(filtered)).to.deep.equal(['net-e', 'net-c', 'net-b']);

    const rows = firstPage.stdout.trimEnd().split('\n');
    expect(rows).to.have.length(3); // the header and 2 objects
    expect(rows.slice(1).map((l) => l.split(/\s+/)[1])).to.deep.equal(['net-a', 'net-b']);
    expect(firstPage.stderr).to.match(/more Networks follow: --all .*--page-token \S+/);

    const everything = await db.service.list('Network', { orderBy: [{ field: 'name' }] });
    expect(everything.items.length).to.be.greaterThan(4);
    expect(names(allPages)).to.deep.equal(everything.items.map((o) => o.name));
  });

  it('refuses a create with bad fields: each on its own line, exit 1, nothing written', async () => {
    const r = await syncord([
      'create',
      'Network',
      'name=cli-bad',
      'subnet=nope',
      'mtu=10',
      'type=BOGUS',
      'owner=no-such-slice',
    ]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).to.equal('syncord: invalid Network:');
    expect(lines).to.include.members([
      '  subnet: nope: missing the /prefix length',
      '  mtu: must be at least 576',
      '  owner_id: no Slice named "no-such-slice"',
    ]);
    expect(lines.some((l) => /^ {2}type: must be one of PRIVATE, .*not "BOGUS"$/.test(l))).to.equal(
      true,
    );
    expect(lines).to.have.length(5);
    expect(r.stderr).not.to.match(/\n\s+at /); // no stack trace
    const left = await db.service.list('Network', {
      filter: [{ field: 'name', op: 'eq', value: 'cli-bad' }],
    });
    expect(left.items).to.deep.equal([]);
  });

  it('updates with --expected-version, and refuses a stale one with the conflict', async () => {
    const a = nets['net-a']!;
    const d = nets['net-d']!;
    const [stale, fresh] = await Promise.all([
      syncord(['update', 'network', 'net-a', 'mtu=1400', '--expected-version', '7']),
      syncord([
        'update',
        'network',
        String(d.id),
        'mtu=1400',
        'dns_servers=10.0.0.2 10.0.0.3',
        '--expected-version',
        '1',
      ]),
    ]);
    expect(stale.code).to.equal(1);
    expect(stale.stderr).to.equal(
      `syncord: Network ${String(a.id)} is at version 1, not 7: it was changed since it was read\n`,
    );
    expect((await db.service.get('Network', a.id)).mtu).to.equal(null);
    expect(fresh.code, fresh.stderr).to.equal(0);
    expect(fresh.stdout).to.equal(`updated Network ${String(d.id)} (net-d): version 2\n`);
    expect(await db.service.get('Network', d.id)).to.include({
      mtu: 1400,
      dns_servers: '10.0.0.2 10.0.0.3',
      version: 2,
    });
  });

  it('deletes by name and prints what the cascade deleted with it', async () => {
    const svc = db.service;
    const slice = await svc.create('Slice', {
      name: 'cli-doomed',
      site_id: base.site.id,
      trust_domain_id: base.td.id,
    });
    const link = await svc.create('NetworkSlice', {
      network_id: nets['net-e']!.id,
      slice_id: slice.id,
    });
    const vnf = await svc.create('VNFServiceInstance', {
      name: 'cli-vnf',
      owner_id: base.service.id,
      slice_id: slice.id,
      image_id: base.image.id,
    });
    const port = await svc.create('Port', {
      network_id: nets['net-e']!.id,
      service_instance_id: vnf.id,
      interface_name: 'net1',
    });
    const r = await ok(['delete', 'slice', 'cli-doomed']);
    expect(r.stdout.trimEnd().split('\n')).to.deep.equal([
      `deleted Slice ${String(slice.id)} (cli-doomed)`,
      'deleted with it, by cascading references (3):',
      `  NetworkSlice ${String(link.id)}`,
      `  VNFServiceInstance ${String(vnf.id)} (cli-vnf)`,
      `  Port ${String(port.id)}`,
    ]);
    const gone = await svc.get('Port', port.id, { includeDeleted: true });
    expect(gone.deleted_at).to.be.a('string');
  });

  it('creates a list from -f - and refuses an ambiguous name, listing the ids', async () => {
    const td2 = await db.service.create('TrustDomain', {
      name: 'cli-td2',
      owner_id: base.service.id,
    });
    const file = YAML.stringify([
      { name: 'cli-dup', trust_domain: 'cli-td' },
      { name: 'cli-dup', trust_domain_id: td2.id },
    ]);
    const created = await ok(['create', 'principal', '-f', '-'], file);
    const ids = [...created.stdout.matchAll(/^created Principal (\d+) \(cli-dup\)$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(ids).to.have.length(2);
    const r = await syncord(['get', 'principal', 'cli-dup']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal(
      `syncord: 2 Principals are named "cli-dup": Principal ${String(ids[0])} (trust_domain_id ${String(base.td.id)}), Principal ${String(ids[1])} (trust_domain_id ${String(td2.id)}); give the id\n`,
    );
  });

  it('describes models from the registry, and names close matches of an unknown model', async () => {
    const [describe, models, unknown, missing] = await Promise.all([
      ok(['describe', 'Network']),
      ok(['models']),
      syncord(['list', 'netwrk']),
      syncord(['get', 'site', '999999']),
    ]);
    expect(describe.stdout).to.match(/^Model: +Network$/m);
    expect(describe.stdout).to.match(/^subnet\s+cidr\s+yes\s+-\s+IPv4 or IPv6 CIDR$/m);
    expect(describe.stdout).to.match(/^type\s+string\s+no\s+PRIVATE\s+one of PRIVATE, PUBLIC/m);
    expect(describe.stdout).to.match(/^owner\s+reference to Slice\s+no\s+-\s+refers to Slice/m);
    expect(models.stdout).to.match(/^NAME\s+PACKAGE\s+EXTENDS\s+DESCRIPTION$/m);
    expect(models.stdout).to.match(/^VNFService\s+vnf\s+Service\s+A vendor network function/m);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.equal('syncord: no model named "netwrk"; did you mean Network?\n');
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.equal('syncord: no Site with id 999999\n');
  });
});
