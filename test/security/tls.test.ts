// TLS on what `syncord serve` serves, as a user checks it: a throwaway PKI made with openssl
// (a CA, a server certificate for 127.0.0.1, a client certificate, and an unrelated second CA
// with a client certificate of its own); the gRPC model API and the HTTP endpoint answer over
// TLS to clients that trust the CA, and refuse plaintext and clients that trust another CA; with a
// client CA they refuse clients without the right certificate; `syncord serve --tls-cert/--tls-key`
// as a process serves TLS to grpcurl and https, and refuses bad TLS flags before listening.
import { expect } from 'chai';
import { execFile, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { apiDefinition } from '../../api/server.js';
import type { ServingTls } from '../../api/tls.js';
import { createUser } from '../../api/users.js';
import { apiClientCredentials } from '../../cli/tls.js';
import { CliError } from '../../cli/format.js';
import { loadConfig } from '../../rig/config.js';
import { readEnv } from '../../rig/control.js';
import { serve, type Server } from '../../synchronizer/serve.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { makePki, type Pki } from '../support/pki.js';
import { eventually } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';

type Obj = Record<string, unknown>;

/** The model API's client over these credentials: unary calls with a short deadline. */
function apiClient(address: string, credentials: grpc.ChannelCredentials) {
  const pkg = grpc.loadPackageDefinition(apiDefinition()) as unknown as {
    syncord: { v1: { ModelService: grpc.ServiceClientConstructor } };
  };
  const client = new pkg.syncord.v1.ModelService(address, credentials);
  const call =
    (method: string, token?: string) =>
    (req: Obj): Promise<Obj> =>
      new Promise((resolve, reject) => {
        const md = new grpc.Metadata();
        if (token) md.set('authorization', `Bearer ${token}`);
        const fn = client[method] as (
          r: Obj,
          md: grpc.Metadata,
          opts: grpc.CallOptions,
          cb: (e: grpc.ServiceError | null, res?: Obj) => void,
        ) => void;
        fn.call(client, req, md, { deadline: Date.now() + 10_000 }, (e, res) => {
          if (e) reject(e);
          else resolve(res ?? {});
        });
      });
  return {
    call,
    close: () => {
      client.close();
    },
  };
}

/** The error a call failed with (the test fails if it succeeded). */
async function refused(p: Promise<unknown>): Promise<grpc.ServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have been refused').to.be.an('error');
  return err as grpc.ServiceError;
}

interface Reply {
  status: number;
  body: string;
}

/** GET over http or https (with TLS options); an Error when the connection fails. */
function get(url: string, options: https.RequestOptions = {}): Promise<Reply | Error> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ...options, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', (e) => {
        resolve(e);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => {
      resolve(e);
    });
  });
}

interface Ran {
  code: number;
  output: string;
}

function grpcurl(bin: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(bin, ['-max-time', '10', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}

const grpcurlBin = (): string | undefined =>
  process.env.SYNCORD_GRPCURL ?? readEnv(loadConfig())?.SYNCORD_GRPCURL;

const PASSWORD = 'correct horse battery';
const hostPort = (url: string) => new URL(url).host;

describe('security: TLS on the API and the HTTP endpoints', function () {
  this.timeout(120_000);
  let pki: Pki;
  let db: ScratchDb;
  const pem = (f: string) => readFileSync(f);

  before(async function () {
    this.timeout(10 * 60_000);
    pki = await makePki();
    db = await scratchDb();
    await createUser(db.service, { name: 'alice', password: PASSWORD, role: 'admin' });
    await db.service.create('Site', { name: 'tls-site', login_base: 'tls' });
  });
  after(async () => {
    await db.drop();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  /** `serve` in this process (no synchronizer) on free ports, with this TLS. */
  const start = (tls: ServingTls): Promise<Server> =>
    serve({
      registry: db.registry,
      steps: [],
      databaseUrl: db.url,
      host: '127.0.0.1',
      port: 0,
      sync: false,
      api: { host: '127.0.0.1', port: 0 },
      tls,
      log: () => undefined,
    });

  describe('server TLS (--tls-cert, --tls-key)', () => {
    let server: Server;
    let api: string;

    before(async () => {
      server = await start({ cert: pem(pki.serverCert), key: pem(pki.serverKey) });
      api = server.apiAddress ?? '';
    });
    after(async () => {
      await server.stop();
    });

    it('serves Login, WhoAmI and List over TLS to a client trusting the CA', async () => {
      const c = apiClient(api, grpc.credentials.createSsl(pem(pki.caCert)));
      try {
        const login = await c.call('Login')({ username: 'alice', password: PASSWORD });
        const token = login.token as string;
        expect(token).to.be.a('string').and.not.equal('');
        const me = await c.call('WhoAmI', token)({});
        expect(me).to.include({ name: 'alice', role: 'admin' });
        const sites = await c.call('ListSite', token)({});
        expect((sites.items as Obj[]).map((s) => s.name)).to.include('tls-site');
      } finally {
        c.close();
      }
    });

    it('refuses a plaintext gRPC client on the same port', async () => {
      const c = apiClient(api, grpc.credentials.createInsecure());
      try {
        const err = await refused(c.call('Login')({ username: 'alice', password: PASSWORD }));
        expect(err.code).to.be.oneOf([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);
      } finally {
        c.close();
      }
    });

    it('fails with a certificate error for a client trusting another CA', async () => {
      const c = apiClient(api, grpc.credentials.createSsl(pem(pki.otherCaCert)));
      try {
        const err = await refused(c.call('Login')({ username: 'alice', password: PASSWORD }));
        expect(err.code).to.equal(grpc.status.UNAVAILABLE);
        expect(err.details).to.match(/certificate|issuer/i);
      } finally {
        c.close();
      }
    });

    it('answers /healthz and /metrics over https with the CA, and not over plain http', async () => {
      expect(server.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
      const health = await get(`${server.url}/healthz`, { ca: pem(pki.caCert) });
      expect(health).to.deep.equal({ status: 200, body: 'ok\n' });
      const metrics = await get(`${server.url}/metrics`, { ca: pem(pki.caCert) });
      expect(metrics).to.not.be.an('error');
      expect((metrics as Reply).status).to.equal(200);
      expect((metrics as Reply).body).to.match(/^# HELP syncord_/m);
      const plain = await get(`http://${hostPort(server.url)}/healthz`);
      expect(plain, 'plain http should not be answered').to.be.an('error');
      const untrusted = await get(`${server.url}/healthz`, { ca: pem(pki.otherCaCert) });
      expect(untrusted).to.be.an('error');
      expect((untrusted as Error).message).to.match(/certificate|issuer/i);
    });

    it('serves the gateway and the GUI over https', async () => {
      const ca = pem(pki.caCert);
      const openapi = await get(`${server.url}/api/v1/openapi.json`, { ca });
      expect((openapi as Reply).status).to.equal(200);
      expect(JSON.parse((openapi as Reply).body)).to.have.property('openapi');
      const page = await get(`${server.url}/`, { ca });
      expect((page as Reply).status).to.equal(200);
      expect((page as Reply).body).to.match(/<html/i);
    });

    it('gives API clients TLS with --ca or SYNCORD_API_CA, and plaintext without', async () => {
      const whoami = async (creds: grpc.ChannelCredentials) => {
        const c = apiClient(api, creds);
        try {
          const login = await c.call('Login')({ username: 'alice', password: PASSWORD });
          return await c.call('WhoAmI', login.token as string)({});
        } finally {
          c.close();
        }
      };
      expect(await whoami(apiClientCredentials({ ca: pki.caCert }))).to.include({ name: 'alice' });
      const saved = process.env.SYNCORD_API_CA;
      process.env.SYNCORD_API_CA = pki.caCert;
      try {
        expect(await whoami(apiClientCredentials({}))).to.include({ name: 'alice' });
        // The flag wins over the variable: trusting the other CA fails.
        const err = await refused(whoami(apiClientCredentials({ ca: pki.otherCaCert })));
        expect(err.details).to.match(/certificate|issuer/i);
      } finally {
        if (saved === undefined) delete process.env.SYNCORD_API_CA;
        else process.env.SYNCORD_API_CA = saved;
      }
      const plain = await refused(whoami(apiClientCredentials({})));
      expect(plain.code).to.be.oneOf([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);
    });

    it('grpcurl -cacert lists the services; grpcurl -plaintext does not', async function () {
      const bin = grpcurlBin();
      if (!bin) this.skip();
      const ok = await grpcurl(bin, ['-cacert', pki.caCert, api, 'list']);
      expect(ok.code, ok.output).to.equal(0);
      expect(ok.output).to.include('syncord.v1.ModelService');
      const plain = await grpcurl(bin, ['-plaintext', api, 'list']);
      expect(plain.code, plain.output).to.not.equal(0);
      expect(plain.output).to.not.include('syncord.v1.ModelService');
    });
  });

  describe('mutual TLS (--tls-client-ca)', () => {
    let server: Server;
    let api: string;

    before(async () => {
      server = await start({
        cert: pem(pki.serverCert),
        key: pem(pki.serverKey),
        clientCa: pem(pki.caCert),
      });
      api = server.apiAddress ?? '';
    });
    after(async () => {
      await server.stop();
    });

    it('refuses a gRPC client without a certificate or with one from another CA', async () => {
      for (const creds of [
        grpc.credentials.createSsl(pem(pki.caCert)),
        grpc.credentials.createSsl(
          pem(pki.caCert),
          pem(pki.otherClientKey),
          pem(pki.otherClientCert),
        ),
      ]) {
        const c = apiClient(api, creds);
        try {
          const err = await refused(c.call('Login')({ username: 'alice', password: PASSWORD }));
          expect(err.code).to.be.oneOf([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);
        } finally {
          c.close();
        }
      }
    });

    it('serves a gRPC client with a certificate the CA signed', async () => {
      const c = apiClient(
        api,
        grpc.credentials.createSsl(pem(pki.caCert), pem(pki.clientKey), pem(pki.clientCert)),
      );
      try {
        const login = await c.call('Login')({ username: 'alice', password: PASSWORD });
        const me = await c.call('WhoAmI', login.token as string)({});
        expect(me).to.include({ name: 'alice' });
      } finally {
        c.close();
      }
    });

    it('gives API clients mutual TLS with --cert and --key', async () => {
      const c = apiClient(
        api,
        apiClientCredentials({ ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey }),
      );
      try {
        const login = await c.call('Login')({ username: 'alice', password: PASSWORD });
        expect(await c.call('WhoAmI', login.token as string)({})).to.include({ name: 'alice' });
      } finally {
        c.close();
      }
      const without = apiClient(api, apiClientCredentials({ ca: pki.caCert }));
      try {
        await refused(without.call('Login')({ username: 'alice', password: PASSWORD }));
      } finally {
        without.close();
      }
    });

    it('refuses https without the right client certificate, and serves it with one', async () => {
      const ca = pem(pki.caCert);
      const none = await get(`${server.url}/healthz`, { ca });
      expect(none, 'no client certificate').to.be.an('error');
      const stranger = await get(`${server.url}/healthz`, {
        ca,
        cert: pem(pki.otherClientCert),
        key: pem(pki.otherClientKey),
      });
      expect(stranger, "another CA's client certificate").to.be.an('error');
      const ok = await get(`${server.url}/healthz`, {
        ca,
        cert: pem(pki.clientCert),
        key: pem(pki.clientKey),
      });
      expect(ok).to.deep.equal({ status: 200, body: 'ok\n' });
    });

    it('grpcurl needs -cert and -key', async function () {
      const bin = grpcurlBin();
      if (!bin) this.skip();
      const without = await grpcurl(bin, ['-cacert', pki.caCert, api, 'list']);
      expect(without.code, without.output).to.not.equal(0);
      const withCert = await grpcurl(bin, [
        ...['-cacert', pki.caCert, '-cert', pki.clientCert, '-key', pki.clientKey],
        ...[api, 'list'],
      ]);
      expect(withCert.code, withCert.output).to.equal(0);
      expect(withCert.output).to.include('syncord.v1.ModelService');
    });
  });

  it('refuses bad API client TLS files, naming the flag and the reason', () => {
    const cases: [Parameters<typeof apiClientCredentials>[0], RegExp][] = [
      [{ ca: pki.caCert, cert: pki.clientCert }, /^--cert needs --key/],
      [{ ca: pki.caCert, key: pki.clientKey }, /^--key needs --cert/],
      [{ cert: pki.clientCert, key: pki.clientKey }, /^--cert needs --ca/],
      [{ ca: pki.clientKey }, /^--ca \S+client\.key: not a PEM certificate/],
      [{ ca: join(pki.dir, 'nope.crt') }, /^--ca \S+nope\.crt: cannot read it: .*ENOENT/],
      [
        { ca: pki.caCert, cert: pki.clientCert, key: pki.serverKey },
        /^--key \S+server\.key: not the private key of the certificate in --cert/,
      ],
    ];
    for (const [flags, message] of cases) {
      expect(() => apiClientCredentials(flags), JSON.stringify(flags))
        .to.throw(CliError)
        .with.property('message')
        .that.matches(message);
    }
  });

  describe('syncord serve as a process', () => {
    /** Runs `syncord serve` with these flags and env; its stderr as it comes. */
    const spawn = (args: string[], env: Record<string, string | undefined> = {}) => {
      const child = spawnServe(
        { DATABASE_URL: db.url, ...env },
        { args: ['--no-sync', ...args], stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const out = { stderr: '' };
      child.stderr?.on('data', (chunk: Buffer) => {
        out.stderr += chunk.toString();
      });
      return { child, out };
    };
    /** The exit code and stderr of a `syncord serve` that must refuse to start. */
    const refusal = async (
      args: string[],
      env: Record<string, string | undefined> = {},
    ): Promise<{ code: number | null; stderr: string }> => {
      const { child, out } = spawn(args, env);
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited(child);
      clearTimeout(timer);
      return { code: child.exitCode, stderr: out.stderr };
    };

    describe('with --tls-cert and --tls-key', () => {
      let child: ChildProcess;
      let url = '';
      let api = '';

      before(async function () {
        this.timeout(5 * 60_000);
        const s = spawn(['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey]);
        child = s.child;
        url = await eventually(
          'serve to listen',
          () =>
            Promise.resolve(/serving \/healthz.* on (https:\S+) \(TLS\)/.exec(s.out.stderr)?.[1]),
          120_000,
        );
        api = await eventually(
          'the API to listen',
          () => Promise.resolve(/ModelService\) on (\S+) \(TLS\)/.exec(s.out.stderr)?.[1]),
          60_000,
        );
      });
      after(async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          await exited(child);
        }
      });

      it('serves https to a client trusting the CA, and not plain http', async () => {
        const ok = await get(`${url}/healthz`, { ca: pem(pki.caCert) });
        expect(ok).to.deep.equal({ status: 200, body: 'ok\n' });
        const plain = await get(`http://${hostPort(url)}/healthz`);
        expect(plain).to.be.an('error');
      });

      it('serves the gRPC API to grpcurl -cacert and to a client trusting the CA', async function () {
        const c = apiClient(api, grpc.credentials.createSsl(pem(pki.caCert)));
        try {
          const login = await c.call('Login')({ username: 'alice', password: PASSWORD });
          const me = await c.call('WhoAmI', login.token as string)({});
          expect(me).to.include({ name: 'alice', role: 'admin' });
        } finally {
          c.close();
        }
        const bin = grpcurlBin();
        if (!bin) this.skip();
        const listed = await grpcurl(bin, ['-cacert', pki.caCert, api, 'list']);
        expect(listed.code, listed.output).to.equal(0);
        expect(listed.output).to.include('syncord.v1.ModelService');
        const plain = await grpcurl(bin, ['-plaintext', api, 'list']);
        expect(plain.code, plain.output).to.not.equal(0);
      });
    });

    it('takes the files from SYNCORD_TLS_CERT and SYNCORD_TLS_KEY; a flag wins', async () => {
      // The flag's key does not belong to the environment's certificate: the flag was used.
      const r = await refusal(['--tls-key', pki.clientKey], {
        SYNCORD_TLS_CERT: pki.serverCert,
        SYNCORD_TLS_KEY: pki.serverKey,
      });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/^syncord: --tls-key \S+client\.key: not the private key of/);
      expect(r.stderr).to.include('SYNCORD_TLS_CERT');
    });

    const badFlags: [string, () => string[], RegExp][] = [
      [
        'a certificate without a key',
        () => ['--tls-cert', pki.serverCert],
        /^syncord: --tls-cert needs --tls-key/,
      ],
      [
        'a key without a certificate',
        () => ['--tls-key', pki.serverKey],
        /^syncord: --tls-key needs --tls-cert/,
      ],
      [
        'a key file given as the certificate',
        () => ['--tls-cert', pki.serverKey, '--tls-key', pki.serverKey],
        /^syncord: --tls-cert \S+server\.key: not a PEM certificate/,
      ],
      [
        'a certificate given as the key',
        () => ['--tls-cert', pki.serverCert, '--tls-key', pki.serverCert],
        /^syncord: --tls-key \S+server\.crt: not a PEM private key/,
      ],
      [
        'an unreadable certificate',
        () => ['--tls-cert', join(pki.dir, 'missing.crt'), '--tls-key', pki.serverKey],
        /^syncord: --tls-cert \S+missing\.crt: cannot read it: .*ENOENT/,
      ],
      [
        'a client CA without server TLS',
        () => ['--tls-client-ca', pki.caCert],
        /^syncord: --tls-client-ca needs --tls-cert and --tls-key/,
      ],
      [
        'a key file given as the client CA',
        () => [
          ...['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey],
          ...['--tls-client-ca', pki.clientKey],
        ],
        /^syncord: --tls-client-ca \S+client\.key: not a PEM certificate/,
      ],
    ];
    for (const [what, args, message] of badFlags) {
      it(`refuses ${what}, naming the flag, before anything listens`, async () => {
        const r = await refusal(args());
        expect(r.code, r.stderr).to.equal(1);
        expect(r.stderr).to.match(message);
        // One line of error and nothing else: no database opened, no endpoint served.
        expect(r.stderr.trim().split('\n')).to.have.length(1);
        expect(r.stderr).to.not.include('serving');
      });
    }
  });
});
