// OVN central from Debian's ovn-central: the northbound and southbound ovsdb-servers on TCP
// ports of 127.0.0.1 (and unix sockets in the run directory), and ovn-northd translating the
// northbound database into southbound logical flows.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { JsonRpcConnection } from '../../backends/ovn/jsonrpc.js';
import type { Component, RigContext } from '../component.js';
import { run } from '../process.js';

const SCHEMA_DIR = '/usr/share/ovn';

const ovnDir = (ctx: RigContext) => join(ctx.config.runDir, 'ovn');

export const ovnNbRemote = (ctx: RigContext) => `tcp:127.0.0.1:${ctx.config.ports.ovnNb}`;
export const ovnSbRemote = (ctx: RigContext) => `tcp:127.0.0.1:${ctx.config.ports.ovnSb}`;

async function serverVersion(): Promise<string> {
  const out = await run('ovsdb-server', ['--version']);
  return /\(Open vSwitch\) (\S+)/.exec(out)?.[1] ?? out.split('\n')[0] ?? '';
}

function ovsdbServer(which: 'nb' | 'sb', database: string): Component {
  const port = (ctx: RigContext) =>
    which === 'nb' ? ctx.config.ports.ovnNb : ctx.config.ports.ovnSb;
  return {
    name: `ovn-${which}`,
    readyTimeoutMs: 20_000,
    port,
    async prepare(ctx) {
      const dir = ovnDir(ctx);
      mkdirSync(dir, { recursive: true });
      const db = join(dir, `ovn${which}_db.db`);
      if (!existsSync(db)) {
        await run('ovsdb-tool', ['create', db, join(SCHEMA_DIR, `ovn-${which}.ovsschema`)]);
      }
      return {
        command: 'ovsdb-server',
        args: [
          db,
          `--remote=ptcp:${port(ctx)}:127.0.0.1`,
          `--remote=punix:${join(dir, `ovn${which}_db.sock`)}`,
          `--unixctl=${join(dir, `ovn${which}_db.ctl`)}`,
          '--no-chdir',
          '-vconsole:info',
          '-vsyslog:off',
        ],
        logFile: ctx.logFile(`ovn-${which}`),
      };
    },
    async ready(ctx) {
      const conn = await JsonRpcConnection.connect(`tcp:127.0.0.1:${port(ctx)}`, 2000);
      try {
        const dbs = await conn.request('list_dbs', []);
        return Array.isArray(dbs) && dbs.includes(database);
      } finally {
        conn.close();
      }
    },
    version: () => serverVersion(),
  };
}

export const ovnNb = ovsdbServer('nb', 'OVN_Northbound');
export const ovnSb = ovsdbServer('sb', 'OVN_Southbound');

const northdCtl = (ctx: RigContext) => join(ovnDir(ctx), 'ovn-northd.ctl');

export const ovnNorthd: Component = {
  name: 'ovn-northd',
  readyTimeoutMs: 20_000,
  // northd serves no port; it is a client of both databases.
  port: () => 0,
  prepare(ctx) {
    return Promise.resolve({
      command: 'ovn-northd',
      args: [
        `--ovnnb-db=${ovnNbRemote(ctx)}`,
        `--ovnsb-db=${ovnSbRemote(ctx)}`,
        `--unixctl=${northdCtl(ctx)}`,
        '--no-chdir',
        '-vconsole:info',
        '-vsyslog:off',
      ],
      logFile: ctx.logFile('ovn-northd'),
    });
  },
  async ready(ctx) {
    if (!existsSync(northdCtl(ctx))) return false;
    const out = await run('ovn-appctl', ['-t', northdCtl(ctx), 'status']);
    return /Status: active/.test(out);
  },
  async version() {
    const out = await run('ovn-northd', ['--version']);
    return /^ovn-northd (\S+)/.exec(out)?.[1] ?? out.split('\n')[0] ?? '';
  },
};
