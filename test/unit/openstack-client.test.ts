// The OpenStack client's own logic against a small in-process HTTP server that answers as Keystone
// and a service do: the token and its catalog, the region's endpoint, the token kept and fetched
// again after a 401, reads retried on 503 and creates not, the services' error bodies as one
// sentence, the deadline, and credentials checked before any call. (The same calls against the real
// Keystone, Neutron and Nova run in test/rig/openstack.test.ts, on the rig with OpenStack.)
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  OpenStackError,
  Session,
  messageOf,
  onRequest,
  type SentRequest,
} from '../../backends/openstack/client.js';

interface Seen {
  method: string;
  path: string;
  token?: string;
}

describe('unit: the OpenStack client', () => {
  let server: http.Server;
  let base: string;
  const seen: Seen[] = [];
  let tokens = 0;
  /** Answers for the next service calls, in order (then 200 {ok: true}). */
  let script: { status: number; body?: unknown; delayMs?: number }[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const path = req.url ?? '';
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d.toString()));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          path,
          ...(req.headers['x-auth-token'] ? { token: String(req.headers['x-auth-token']) } : {}),
        });
        if (path === '/identity/v3/auth/tokens') {
          const body = JSON.parse(raw) as {
            auth: { identity: { password?: { user: { password: string } } } };
          };
          if (body.auth.identity.password?.user.password === 'wrong') {
            res.writeHead(401, { 'content-type': 'application/json' });
            res.end(
              JSON.stringify({
                error: { code: 401, message: 'The request you have made requires authentication.' },
              }),
            );
            return;
          }
          tokens++;
          res.writeHead(201, {
            'content-type': 'application/json',
            'x-subject-token': `tok-${String(tokens)}`,
          });
          res.end(
            JSON.stringify({
              token: {
                expires_at: new Date(Date.now() + 3600_000).toISOString(),
                project: { id: 'p1' },
                catalog: [
                  {
                    type: 'network',
                    endpoints: [
                      { interface: 'public', region_id: 'other', url: `${base}/elsewhere` },
                      { interface: 'internal', region_id: 'east', url: `${base}/internal` },
                      { interface: 'public', region_id: 'east', url: `${base}/network/` },
                    ],
                  },
                ],
              },
            }),
          );
          return;
        }
        const next = script.shift() ?? { status: 200, body: { ok: true } };
        setTimeout(() => {
          res.writeHead(next.status, { 'content-type': 'application/json' });
          res.end(next.body === undefined ? '' : JSON.stringify(next.body));
        }, next.delayMs ?? 0);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  });
  after(() => {
    server.close();
  });
  beforeEach(() => {
    seen.length = 0;
    script = [];
  });

  const session = (over: Record<string, string> = {}, timeoutMs = 2000) =>
    new Session(
      {
        authUrl: `${base}/identity`,
        regionName: 'east',
        username: 'syncord',
        password: 'secret',
        projectName: 'tenant',
        ...over,
      },
      { timeoutMs },
    );

  it("takes a token and calls the region's public endpoint with it, keeping the token", async () => {
    const s = session();
    expect(await s.request('network', 'GET', '/v2.0/ports')).to.deep.equal({ ok: true });
    await s.request('network', 'GET', '/v2.0/networks');
    expect(seen.map((x) => x.path)).to.deep.equal([
      '/identity/v3/auth/tokens',
      '/network/v2.0/ports',
      '/network/v2.0/networks',
    ]);
    expect(seen[1]!.token).to.equal(seen[2]!.token);
    expect(await s.projectId()).to.equal('p1');
  });

  it('takes a new token once after a 401, then calls again', async () => {
    const s = session();
    await s.request('network', 'GET', '/v2.0/ports');
    script = [{ status: 401, body: { error: { message: 'token revoked' } } }];
    expect(await s.request('network', 'GET', '/v2.0/ports')).to.deep.equal({ ok: true });
    const calls = seen.filter((x) => x.path === '/network/v2.0/ports');
    expect(calls).to.have.length(3);
    expect(calls[2]!.token).not.to.equal(calls[1]!.token);
  });

  it('retries a read on 503, and never a create', async () => {
    const s = session();
    script = [{ status: 503 }, { status: 503 }];
    expect(await s.request('network', 'GET', '/v2.0/ports')).to.deep.equal({ ok: true });
    expect(seen.filter((x) => x.path === '/network/v2.0/ports')).to.have.length(3);
    script = [{ status: 503, body: { NeutronError: { message: 'busy' } } }];
    const err = await s
      .request('network', 'POST', '/v2.0/ports', { body: {} })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(OpenStackError);
    expect((err as OpenStackError).status).to.equal(503);
    expect(
      seen.filter((x) => x.method === 'POST' && x.path === '/network/v2.0/ports'),
    ).to.have.length(1);
  });

  it('tells onRequest listeners of every request sent, the token and retries included', async () => {
    const s = session();
    const told: SentRequest[] = [];
    const off = onRequest((r) => told.push(r));
    try {
      script = [{ status: 503 }];
      await s.request('network', 'GET', '/v2.0/ports', { query: { name: 'x' } });
    } finally {
      off();
    }
    await s.request('network', 'GET', '/v2.0/networks');
    expect(told).to.deep.equal([
      { service: 'identity', method: 'POST', path: '/identity/v3/auth/tokens' },
      { service: 'network', method: 'GET', path: '/network/v2.0/ports' },
      { service: 'network', method: 'GET', path: '/network/v2.0/ports' },
    ]);
  });

  it("says the service's own reason in one sentence", async () => {
    const s = session();
    script = [
      {
        status: 409,
        body: {
          NeutronError: {
            type: 'IpAddressInUse',
            message:
              'Unable to complete operation for network n1. The IP address 10.0.0.5 is in use.',
          },
        },
      },
    ];
    const err = (await s
      .request('network', 'POST', '/v2.0/ports', { body: {} })
      .catch((e: unknown) => e)) as OpenStackError;
    expect(err.message).to.equal(
      'network: POST /v2.0/ports: 409 Unable to complete operation for network n1. The IP address 10.0.0.5 is in use.',
    );
    expect(err.conflict).to.equal(true);
    expect(
      messageOf({ badRequest: { message: 'Invalid flavorRef provided.', code: 400 } }),
    ).to.equal('Invalid flavorRef provided.');
    expect(
      messageOf({ errors: [{ title: 'Not Found', detail: 'No resource provider' }] }),
    ).to.equal('No resource provider');
  });

  it('gives up on a service that does not answer in time', async () => {
    const s = session({}, 300);
    await s.request('network', 'GET', '/v2.0/ports'); // the token first
    script = [
      { status: 200, delayMs: 1500 },
      { status: 200, delayMs: 1500 },
      { status: 200, delayMs: 1500 },
    ];
    const err = (await s
      .request('network', 'DELETE', '/v2.0/ports/x')
      .catch((e: unknown) => e)) as OpenStackError;
    expect(err.message).to.match(/did not answer within 300 ms/);
    expect(err.status).to.equal(undefined);
  });

  it('names wrong credentials, and missing ones before any call', async () => {
    const err = (await session({ password: 'wrong' })
      .request('network', 'GET', '/v2.0/ports')
      .catch((e: unknown) => e)) as OpenStackError;
    expect(err.message).to.match(
      /^Keystone refused the credentials of user syncord \(401: The request/,
    );
    expect(Session.problems({ authUrl: 'ftp://x' })).to.deep.equal([
      'auth_url: ftp://x is not an http(s) URL',
      'username (or an application credential) is needed',
      'password (or an application credential) is needed',
      'a project (the trust domain) is needed',
    ]);
    expect(
      Session.problems({ authUrl: 'http://k/v3', applicationCredentialId: 'a' }),
    ).to.deep.equal(['application_credential_secret is missing']);
    expect(() => new Session({ authUrl: '' })).to.throw(/auth_url/);
  });
});
