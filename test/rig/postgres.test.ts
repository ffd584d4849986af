// Smoke test of the rig's PostgreSQL (Debian's server, a throwaway cluster): it answers on
// DATABASE_URL with password authentication, and has the semantics Syncord relies on: NOTIFY
// delivered across connections and advisory locks held per session.
import { expect } from 'chai';
import pg from 'pg';
import { rig, eventually, type RigEnv } from '../support/rig.js';

describe('rig: PostgreSQL', function () {
  let env: RigEnv;
  const clients: pg.Client[] = [];

  async function connect(url = env.DATABASE_URL): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    clients.push(c);
    return c;
  }

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  });

  it('answers on DATABASE_URL, bound to 127.0.0.1', async () => {
    const c = await connect();
    const { rows } = await c.query<{ v: string; addr: string }>(
      'SELECT version() AS v, host(inet_server_addr()) AS addr',
    );
    expect(rows[0]?.v).to.match(/^PostgreSQL \d+/);
    expect(rows[0]?.addr).to.equal('127.0.0.1');
  });

  it('refuses a wrong password', async () => {
    const url = new URL(env.DATABASE_URL);
    url.password = 'not-the-password';
    const err = await connect(url.toString()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.match(/password authentication failed/);
  });

  it('delivers NOTIFY from one connection to a LISTEN on another', async () => {
    const listener = await connect();
    const sender = await connect();
    const got: string[] = [];
    listener.on('notification', (n) => got.push(n.payload ?? ''));
    await listener.query('LISTEN rig_smoke');
    await sender.query("SELECT pg_notify('rig_smoke', 'hello')");
    await eventually('the notification', () => Promise.resolve(got.length ? got : undefined), 5000);
    expect(got).to.deep.equal(['hello']);
  });

  it('holds an advisory lock per session', async () => {
    const a = await connect();
    const b = await connect();
    const key = Math.floor(Math.random() * 1e9);
    const lock = async (c: pg.Client) =>
      (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key])).rows[0]?.ok;
    expect(await lock(a)).to.equal(true);
    expect(await lock(b)).to.equal(false);
    await a.query('SELECT pg_advisory_unlock($1)', [key]);
    expect(await lock(b)).to.equal(true);
  });
});
