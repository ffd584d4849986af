// A private ovsdb-server serving a fresh OVN_Northbound database, for tests that kill, stop and
// restart the server (never the rig's). It runs in the foreground as our child process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/rig.js';

const exec = promisify(execFile);
const schemaFile = '/usr/share/ovn/ovn-nb.ovsschema';

function canConnect(options: { path: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(options);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

export class PrivateOvsdb {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  output = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PrivateOvsdb> {
    const dir = await mkdtemp(join(tmpdir(), 'syncord-ovsdb-'));
    await exec('ovsdb-tool', ['create', join(dir, 'nb.db'), schemaFile]);
    return new PrivateOvsdb(dir, await freePort());
  }

  get dbFile(): string {
    return join(this.dir, 'nb.db');
  }
  get socketPath(): string {
    return join(this.dir, 'nb.sock');
  }
  get ctlPath(): string {
    return join(this.dir, 'nb.ctl');
  }
  get tcp(): string {
    return `tcp:127.0.0.1:${this.port}`;
  }
  get unix(): string {
    return `unix:${this.socketPath}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server on the db file; with tcp false it listens on the unix socket only. */
  async start({ tcp = true } = {}): Promise<void> {
    const args = [
      `--remote=punix:${this.socketPath}`,
      `--pidfile=${join(this.dir, 'nb.pid')}`,
      `--unixctl=${this.ctlPath}`,
      '--no-chdir',
      '-vconsole:off',
      this.dbFile,
    ];
    if (tcp) args.unshift(`--remote=ptcp:${this.port}:127.0.0.1`);
    const child = spawn('ovsdb-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        resolve();
      });
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`ovsdb-server exited with ${child.exitCode}: ${this.output}`);
      }
      const up = await canConnect(
        tcp ? { host: '127.0.0.1', port: this.port } : { path: this.socketPath },
      );
      if (up) return;
      if (Date.now() > deadline) throw new Error(`ovsdb-server did not start: ${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Opens the tcp remote on a running server (ovsdb-server/add-remote). */
  async addTcpRemote(): Promise<void> {
    await exec('ovs-appctl', [
      '-t',
      this.ctlPath,
      'ovsdb-server/add-remote',
      `ptcp:${this.port}:127.0.0.1`,
    ]);
  }

  /** Sends a signal; for SIGKILL and SIGTERM, waits until the process is gone. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    if (sig === 'SIGKILL' || sig === 'SIGTERM') {
      await this.exited;
      this.child = undefined;
    }
  }

  async destroy(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      await this.signal('SIGKILL');
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
