// The rig's command line as a developer uses it: status, a second `up` that changes nothing,
// env, and a component that cannot start, which names itself and its log and stops the rest.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { openstackComponents } from '../../rig/components/openstack.js';
import { loadConfig, projectDir } from '../../rig/config.js';
import { enabledExtras } from '../../rig/control.js';
import { isAlive } from '../../rig/process.js';
import { rig, type RigEnv } from '../support/rig.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function rigCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      join(projectDir, 'rig', 'rig'),
      args,
      { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

interface Row {
  component: string;
  state: string;
  version: string;
  port: number;
  pid?: number;
  log: string;
}

const baseComponents = [
  'postgres',
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
  'ovn-nb',
  'ovn-sb',
  'ovn-northd',
  'vtn',
];
// A rig brought up with --with openstack also lists (and keeps) its OpenStack services.
const all = enabledExtras(loadConfig()).includes('openstack')
  ? [...baseComponents, ...openstackComponents.map((c) => c.name)]
  : baseComponents;
/** Components that serve no port of their own. */
const portless = ['ovn-northd', 'nova-conductor', 'nova-scheduler', 'nova-compute'];

describe('rig: command line', function () {
  this.timeout(180_000);
  let env: RigEnv;

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
  });

  it('status shows every component running with its version, port and pid', async () => {
    const res = await rigCli(['status', '--json']);
    expect(res.code, res.stderr).to.equal(0);
    const rows = JSON.parse(res.stdout) as Row[];
    expect(rows.map((r) => r.component)).to.deep.equal(all);
    for (const r of rows) {
      expect(r.state, r.component).to.equal('running');
      expect(r.version, r.component).to.match(/\d+\.\d+/);
      expect(isAlive(r.pid), r.component).to.equal(true);
      if (!portless.includes(r.component)) expect(r.port, r.component).to.be.above(0);
    }
  });

  it('a second up changes nothing: same processes, nothing rebuilt', async () => {
    const before = JSON.parse((await rigCli(['status', '--json'])).stdout) as Row[];
    const res = await rigCli(['up']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stderr).to.not.match(/\bbuild\b/);
    expect(res.stderr.match(/already running/g)).to.have.length(all.length);
    const after = JSON.parse((await rigCli(['status', '--json'])).stdout) as Row[];
    expect(after.map((r) => r.pid)).to.deep.equal(before.map((r) => r.pid));
  });

  it('env prints the exports the tests use', async () => {
    const res = await rigCli(['env']);
    expect(res.code).to.equal(0);
    for (const [key, value] of Object.entries(env)) {
      expect(res.stdout).to.include(`export ${key}='${value}'`);
    }
  });

  describe('a component that cannot start', () => {
    let dir: string;
    let blocker: Server | undefined;
    const base = 17000 + Math.floor(Math.random() * 2000);
    const other = () => ({ SYNCORD_RIG_DIR: dir, SYNCORD_RIG_PORT_BASE: String(base) });

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'syncord-rig-fail-'));
    });

    afterEach(async () => {
      await rigCli(['down'], other());
      rmSync(dir, { recursive: true, force: true });
      const server = blocker;
      blocker = undefined;
      if (server) await new Promise((r) => server.close(r));
    });

    it('names the component and its log when its port is taken, and stops the rest', async () => {
      blocker = createServer();
      await new Promise<void>((r) => blocker?.listen(base + 443, '127.0.0.1', r));
      const res = await rigCli(['up'], other());
      expect(res.code).to.equal(1);
      const last = res.stderr.trim().split('\n').pop() ?? '';
      expect(last).to.include(
        `kube-apiserver failed to start: port 127.0.0.1:${base + 443} is already taken`,
      );
      expect(last).to.include(`(log: ${join(dir, 'logs', 'kube-apiserver.log')})`);
      const status = await rigCli(['status', '--json'], other());
      const rows = JSON.parse(status.stdout) as Row[];
      expect(rows.filter((r) => r.state !== 'stopped')).to.deep.equal([]);
    });

    it('gives the last thing a daemon logged when it dies on start', async () => {
      // A data directory from a PostgreSQL that does not exist: the server refuses it and exits.
      mkdirSync(join(dir, 'postgres', 'data'), { recursive: true });
      writeFileSync(join(dir, 'postgres', 'data', 'PG_VERSION'), '7\n');
      writeFileSync(join(dir, 'postgres', 'password'), 'x\n');
      const res = await rigCli(['up'], other());
      expect(res.code).to.equal(1);
      const last = res.stderr.trim().split('\n').pop() ?? '';
      expect(last).to.match(/postgres failed to start: postgres exited before it was ready/);
      expect(last).to.match(/it last logged: .*postgresql\.conf/);
      expect(last).to.include(`(log: ${join(dir, 'logs', 'postgres.log')})`);
    });
  });
});
