// Tokens end: one expires at its time; one revoked (Logout, an admin deleting its ApiToken, its
// user deactivated) stops working at once on the replica that revoked it and within the 5 s its
// check is cached on any other replica (a change to a user, role or token through a replica
// drops that replica's cached checks). Two API servers on one database play two replicas.
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { TOKEN_CACHE_MS } from '../../api/auth.js';
import { startApiServer, type ApiServer } from '../../api/server.js';
import { callApi } from '../support/api-call.js';
import { scratchDb, type ScratchDb } from '../support/db.js';

const PASSWORD = 'correct horse battery';

const call = callApi;

/** The status of WhoAmI with this token, and the error's text. */
async function whoami(address: string, token: string): Promise<string> {
  return call(address, token, 'WhoAmI', {}).then(
    () => 'OK',
    (e: unknown) => {
      const err = e as grpc.ServiceError;
      return `${grpc.status[err.code]}: ${err.details}`;
    },
  );
}

/** Polls until WhoAmI is refused; the milliseconds it took. */
async function refusedWithin(address: string, token: string, limitMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const got = await whoami(address, token);
    if (got !== 'OK') {
      expect(got).to.match(/^UNAUTHENTICATED: /);
      return Date.now() - t0;
    }
    if (Date.now() - t0 > limitMs) throw new Error(`still accepted after ${String(limitMs)} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('security: tokens expire and can be revoked, on every replica', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let a: ApiServer;
  let b: ApiServer;
  let admin = '';
  let userId = 0;

  before(async function () {
    this.timeout(10 * 60_000);
    db = await scratchDb();
    const start = () =>
      startApiServer({
        listen: '127.0.0.1:0',
        registry: db.registry,
        models: db.service,
        url: db.url,
      });
    a = await start();
    b = await start();
    const adminRole = await db.service.create('Role', { name: 'admin' });
    const operator = await db.service.create('Role', { name: 'operator' });
    await db.service.create('User', { name: 'root', password: PASSWORD, role_id: adminRole.id });
    userId = (
      await db.service.create('User', { name: 'alice', password: PASSWORD, role_id: operator.id })
    ).id;
    admin = (await call(a.address, '', 'Login', { username: 'root', password: PASSWORD }))
      .token as string;
  });
  after(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });

  const login = async () =>
    (await call(a.address, '', 'Login', { username: 'alice', password: PASSWORD })).token as string;

  it('refuses a token after its expiry, saying when it expired', async () => {
    const { token, expiresAt } = await a.auth.issue(userId, 1500);
    expect(await whoami(a.address, token)).to.equal('OK');
    expect(await whoami(b.address, token)).to.equal('OK');
    await new Promise((r) => setTimeout(r, 1600));
    for (const api of [a, b]) {
      expect(await whoami(api.address, token)).to.equal(
        `UNAUTHENTICATED: the token expired at ${String(expiresAt)}`,
      );
    }
  });

  it('Logout ends a token at once where it was called, and within the cache time elsewhere', async () => {
    const token = await login();
    expect(await whoami(a.address, token)).to.equal('OK');
    expect(await whoami(b.address, token)).to.equal('OK'); // now cached on b
    await call(a.address, token, 'Logout', {});
    expect(await whoami(a.address, token)).to.match(/^UNAUTHENTICATED: .*revoked/);
    const took = await refusedWithin(b.address, token, TOKEN_CACHE_MS + 1000);
    process.stderr.write(`      (the other replica refused it ${String(took)} ms after Logout)\n`);
  });

  it("an admin deleting a user's token, or deactivating the user, ends it on every replica", async () => {
    const token = await login();
    const other = await login();
    for (const api of [a, b]) {
      expect(await whoami(api.address, token)).to.equal('OK');
      expect(await whoami(api.address, other)).to.equal('OK');
    }
    const tokens = (await call(a.address, admin, 'ListApiToken', {
      filter: [{ field: 'user', value: { numberValue: userId } }],
    })) as { items: { id: number; created_at: unknown }[] };
    expect(tokens.items.length).to.be.at.least(2);
    // Every token of alice's goes: the admin does not need to know which is which.
    for (const t of tokens.items) await call(a.address, admin, 'DeleteApiToken', { id: t.id });
    // At once on the replica that deleted them, within the cache time on the other.
    expect(await whoami(a.address, token)).to.match(/^UNAUTHENTICATED: .*revoked/);
    expect(await whoami(a.address, other)).to.match(/^UNAUTHENTICATED: .*revoked/);
    await refusedWithin(b.address, token, TOKEN_CACHE_MS + 1000);
    await refusedWithin(b.address, other, TOKEN_CACHE_MS + 1000);
    // Deactivated: a fresh login is refused, and a token issued before stops.
    const before = await a.auth.issue(userId, null);
    expect(await whoami(b.address, before.token)).to.equal('OK');
    await call(a.address, admin, 'UpdateUser', { object: { id: userId, is_active: false } });
    const refusedLogin = await login().then(
      () => 'logged in',
      (e: unknown) => grpc.status[(e as grpc.ServiceError).code],
    );
    expect(refusedLogin).to.equal('UNAUTHENTICATED');
    expect(await whoami(a.address, before.token)).to.equal(
      'UNAUTHENTICATED: user alice is not active',
    );
    await refusedWithin(b.address, before.token, TOKEN_CACHE_MS + 1000);
  });
});
