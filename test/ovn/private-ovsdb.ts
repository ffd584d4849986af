// A private ovsdb-server serving a fresh OVN_Northbound database, for tests that kill, stop and
// restart the server (never the rig's). It runs in the foreground as our child process, on a unix
// socket and on 127.0.0.1 over tcp, or over ssl (pssl) with the files start() is given.
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

/** The server's TLS files (PEM), as ovsdb-server's --private-key, --certificate and --ca-cert. */
export interface OvsdbServerSsl {
  key: string;
  cert: string;
  /** The CA that must have signed the clients' certificates. */
  ca: string;
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
  /** The port as an ssl: remote (when started with ssl). */
  get ssl(): string {
    return `ssl:127.0.0.1:${this.port}`;
  }
  get unix(): string {
    return `unix:${this.socketPath}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Starts the server on the db file; with tcp false it listens on the unix socket only; with ssl
   * it serves TLS on the port (pssl, requiring client certificates the CA signed) instead of tcp.
   */
  async start({ tcp = true, ssl }: { tcp?: boolean; ssl?: OvsdbServerSsl } = {}): Promise<void> {
    const args = [
      `--remote=punix:${this.socketPath}`,
      `--pidfile=${join(this.dir, 'nb.pid')}`,
      `--unixctl=${this.ctlPath}`,
      '--no-chdir',
      '-vconsole:off',
      this.dbFile,
    ];
    if (ssl) {
      args.unshift(
        `--remote=pssl:${this.port}:127.0.0.1`,
        `--private-key=${ssl.key}`,
        `--certificate=${ssl.cert}`,
        `--ca-cert=${ssl.ca}`,
      );
    } else if (tcp) args.unshift(`--remote=ptcp:${this.port}:127.0.0.1`);
    const inet = tcp || ssl !== undefined;
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
      // (Over ssl, a TCP connection shows the port is open; the server logs the TLS that failed.)
      const up = await canConnect(
        inet ? { host: '127.0.0.1', port: this.port } : { path: this.socketPath },
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
