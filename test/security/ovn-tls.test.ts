// The OVN client over `ssl:`, as an operator checks it: a private ovsdb-server serving the OVN
// northbound database over TLS only (pssl, bound to 127.0.0.1, client certificates required), a
// throwaway PKI made with openssl, and the OVN steps configured as `syncord serve` configures them
// (OVN_NB_DB=ssl:..., SYNCORD_OVN_SSL_KEY/CERT/CA). The steps write a Network's logical switch that
// ovn-nbctl, over ssl with the same files, lists; a client certificate of another CA is refused
// by the server, and a server certificate the trusted CA did not sign is refused by the client,
// each with a status naming the remote and no key material; missing or bad files are refused when
// the steps are built; after the server is stopped and restarted the client reconnects over ssl.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ModelObject, ModelService } from '../../models/service.js';
import { ovnOptionsFromEnv, type OvnSslFiles } from '../../steps/index.js';
import { ovnStepSet, OvnRuntime, switchName } from '../../steps/ovn/index.js';
import { Engine } from '../../synchronizer/engine.js';
import { syncedNow } from '../faults/support.js';
import { PrivateOvsdb, type OvsdbServerSsl } from '../ovn/private-ovsdb.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { issue, makePki, removePki, type Pki } from '../support/pki.js';
import { eventually, rig, uniqueName } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';

const exec = promisify(execFile);
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

interface Run {
  db: ScratchDb;
  svc: ModelService;
  engine: Engine;
  log: string[];
  instance: string;
  stopped?: boolean;
}

/** Stops a run's engine (once): a refused one stops retrying against the server. */
async function stop(run: Run): Promise<void> {
  if (run.stopped) return;
  run.stopped = true;
  await run.engine.stop();
}

describe('security: the OVN client over ssl: (OVSDB over TLS)', function () {
  this.timeout(180_000);
  let pki: Pki;
  let serverSsl: OvsdbServerSsl;
  let server: PrivateOvsdb;
  const runs: Run[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    await rig(); // the scratch databases are on the rig's PostgreSQL
    pki = await makePki('syncord-ovn-tls-');
    // As ovs-pki makes them: the certificate names the role and an id, not the host (no
    // subjectAltName); the client connects to 127.0.0.1 all the same.
    const ovsdb = await issue(pki.dir, 'ovsdb-server', {
      cn: `ovsdb-server id:${randomUUID()}`,
      by: { cert: pki.caCert, key: pki.caKey },
      usage: 'serverAuth,clientAuth',
    });
    serverSsl = { key: ovsdb.key, cert: ovsdb.cert, ca: pki.caCert };
    server = await PrivateOvsdb.create();
    await server.start({ ssl: serverSsl });
  });

  after(async function () {
    this.timeout(60_000);
    for (const r of runs) await stop(r);
    for (const r of runs) await r.db.drop();
    await server.destroy();
    removePki(pki);
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const r of runs) console.log(r.log.slice(-40).join('\n'));
    console.log(server.output.slice(-4000));
  });

  /** The environment of an OVN deployment on the private server over ssl, with these changes. */
  const sslEnv = (over: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => ({
    OVN_NB_DB: server.ssl,
    SYNCORD_OVN_SSL_KEY: pki.clientKey,
    SYNCORD_OVN_SSL_CERT: pki.clientCert,
    SYNCORD_OVN_SSL_CA: pki.caCert,
    ...over,
  });

  /** ovn-nbctl over ssl with the client's files, as an operator runs it. */
  const nbctl = async (...args: string[]): Promise<string> =>
    (
      await exec('ovn-nbctl', [
        `--db=${server.ssl}`,
        ...['-p', pki.clientKey, '-c', pki.clientCert, '-C', pki.caCert],
        ...args,
      ])
    ).stdout.trim();

  /** The OVN steps as `syncord serve` builds them from this environment, under an engine. */
  async function startSteps(env: NodeJS.ProcessEnv): Promise<Run> {
    const instance = uniqueName('ovn-tls');
    const log: string[] = [];
    const note = (l: string) => log.push(`${new Date().toISOString()} ${l}`);
    const options = ovnOptionsFromEnv({ ...env, SYNCORD_INSTANCE: instance }, note);
    expect(options?.ssl, 'the ssl material read from the environment').to.not.be.undefined;
    const db = await scratchDb();
    const engine = new Engine(db.registry, db.service, ovnStepSet(options!).steps, {
      url: db.url,
      workers: 4,
      resyncMs: 60 * 60_000,
      backoff: { baseMs: 300, maxMs: 2000 },
      log: note,
    });
    const run = { db, svc: db.service, engine, log, instance };
    runs.push(run);
    await engine.start();
    return run;
  }

  const network = (run: Run, n: number): Promise<ModelObject> =>
    run.svc.create('Network', {
      name: `${run.instance}-net${String(n)}`,
      subnet: `10.7${String(n)}.0.0/24`,
    });

  /** The error status a Network comes to (the engine retrying it). */
  const errorStatus = (svc: ModelService, id: number): Promise<string> =>
    eventually(
      `Network ${String(id)} in error`,
      async () => {
        const o = await svc.get('Network', id);
        return o.backend_code === 2 && Number(o.failures) >= 1
          ? String(o.backend_status)
          : undefined;
      },
      60_000,
    );

  /** The message quotes no key: no PEM armour, no line of any key file's body. */
  function expectNoKeyMaterial(message: string): void {
    expect(message).to.not.include('-----BEGIN');
    for (const file of [pki.clientKey, pki.otherClientKey, pki.caKey, serverSsl.key]) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.length >= 16 && !line.startsWith('-----')) {
          expect(message, `a line of ${file}`).to.not.include(line);
        }
      }
    }
  }

  describe('with a client certificate and a CA the server and the client agree on', () => {
    let run: Run;
    let first: ModelObject;

    it("writes a Network's logical switch over ssl:, which ovn-nbctl -p -c -C ls-list shows", async () => {
      run = await startSteps(sslEnv());
      first = await network(run, 1);
      await syncedNow(run.svc, 'Network', first.id, 60_000, run.log);
      const status = String((await run.svc.get('Network', first.id)).backend_status);
      expect(status).to.include(`logical switch ${switchName(first)}`);
      const listed = await nbctl('ls-list');
      expect(listed).to.include(`(${switchName(first)})`);
      const owner = await nbctl(
        'get',
        'Logical_Switch',
        switchName(first),
        'external_ids:syncord-instance',
      );
      expect(owner.replace(/"/g, '')).to.equal(run.instance);
    });

    it('after the ssl ovsdb-server is stopped and restarted on its database and port, reconnects over ssl and a further write lands', async () => {
      expect(run, 'the previous test started the steps').to.not.be.undefined;
      await server.signal('SIGTERM');
      await server.start({ ssl: serverSsl });
      const second = await network(run, 2);
      await syncedNow(run.svc, 'Network', second.id, 60_000, run.log);
      const listed = await nbctl('ls-list');
      expect(listed).to.include(`(${switchName(first)})`);
      expect(listed).to.include(`(${switchName(second)})`);
      const log = run.log.join('\n');
      expect(log).to.include(`lost the northbound database at ${server.ssl}`);
      expect(log).to.include(`reconnected to the northbound database at ${server.ssl}`);
    });
  });

  it('is refused by the server with a client certificate another CA signed: the status says so and names the remote, with no key material', async () => {
    const run = await startSteps(
      sslEnv({
        SYNCORD_OVN_SSL_KEY: pki.otherClientKey,
        SYNCORD_OVN_SSL_CERT: pki.otherClientCert,
      }),
    );
    const net = await network(run, 3);
    const status = await errorStatus(run.svc, net.id);
    console.log(`      (status: ${status})`);
    expect(status).to.include(`cannot reach the OVN northbound database at ${server.ssl}`);
    expect(status).to.match(/the server refused this client's certificate \(.*unknown ca/i);
    expectNoKeyMaterial(status);
    // Nothing of it reached the database.
    expect(await nbctl('ls-list')).to.not.include(switchName(net));
    await stop(run);
  });

  it("refuses the server when the CA it trusts did not sign the server's certificate, naming the remote", async () => {
    const run = await startSteps(sslEnv({ SYNCORD_OVN_SSL_CA: pki.otherCaCert }));
    const net = await network(run, 4);
    const status = await errorStatus(run.svc, net.id);
    console.log(`      (status: ${status})`);
    expect(status).to.include(`cannot reach the OVN northbound database at ${server.ssl}`);
    expect(status).to.match(/refused the server's certificate \(.*\): it does not verify/);
    expectNoKeyMaterial(status);
    expect(await nbctl('ls-list')).to.not.include(switchName(net));
    await stop(run);
  });

  it('refuses an ssl: remote without all three variables when the steps are built, naming the missing ones', () => {
    // Port 1 on 127.0.0.1: nothing is connected to, the error comes before.
    const remote = 'ssl:127.0.0.1:1';
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [
        { OVN_NB_DB: remote },
        /^OVN_NB_DB ssl:127\.0\.0\.1:1 needs SYNCORD_OVN_SSL_KEY, SYNCORD_OVN_SSL_CERT and SYNCORD_OVN_SSL_CA \(--ovn-ssl-key, --ovn-ssl-cert, --ovn-ssl-ca\)/,
      ],
      [
        { OVN_NB_DB: remote, SYNCORD_OVN_SSL_KEY: pki.clientKey },
        /^OVN_NB_DB ssl:127\.0\.0\.1:1 needs SYNCORD_OVN_SSL_CERT and SYNCORD_OVN_SSL_CA \(/,
      ],
      [
        sslEnv({ OVN_NB_DB: remote, SYNCORD_OVN_SSL_CA: '' }),
        /^OVN_NB_DB ssl:127\.0\.0\.1:1 needs SYNCORD_OVN_SSL_CA \(--ovn-ssl-ca\): the CA certificate for an ssl: remote/,
      ],
      [
        { OVN_NB_DB: 'tcp:127.0.0.1:1', OVN_SB_DB: remote, SYNCORD_OVN_SSL_CA: pki.caCert },
        /^OVN_SB_DB ssl:127\.0\.0\.1:1 needs SYNCORD_OVN_SSL_KEY and SYNCORD_OVN_SSL_CERT /,
      ],
    ];
    for (const [env, message] of cases) {
      expect(() => ovnOptionsFromEnv(env), JSON.stringify(env)).to.throw(message);
    }
    // The steps' own options refuse it too (for callers that build them by hand).
    expect(() => new OvnRuntime({ nbEndpoint: remote })).to.throw(
      /ssl:127\.0\.0\.1:1: an ssl: remote needs a private key, a certificate and a CA certificate/,
    );
  });

  it('refuses files that cannot be read or are not PEM of the right kind, naming the variable, the path and the reason', () => {
    const missing = join(pki.dir, 'missing.key');
    const cases: [Record<string, string>, RegExp][] = [
      [
        { SYNCORD_OVN_SSL_KEY: missing },
        /^SYNCORD_OVN_SSL_KEY \(--ovn-ssl-key\) \S+missing\.key: cannot read it: ENOENT/,
      ],
      [
        { SYNCORD_OVN_SSL_CA: pki.dir },
        /^SYNCORD_OVN_SSL_CA \(--ovn-ssl-ca\) \S+: cannot read it: EISDIR/,
      ],
      [
        { SYNCORD_OVN_SSL_CERT: pki.clientKey },
        /^SYNCORD_OVN_SSL_CERT \(--ovn-ssl-cert\) \S+client\.key: not a PEM certificate/,
      ],
      [
        { SYNCORD_OVN_SSL_CA: pki.caKey },
        /^SYNCORD_OVN_SSL_CA \(--ovn-ssl-ca\) \S+ca\.key: not a PEM certificate/,
      ],
      [
        { SYNCORD_OVN_SSL_KEY: pki.clientCert },
        /^SYNCORD_OVN_SSL_KEY \(--ovn-ssl-key\) \S+client\.crt: not a PEM private key/,
      ],
      [
        { SYNCORD_OVN_SSL_KEY: pki.otherClientKey },
        /^SYNCORD_OVN_SSL_KEY \(--ovn-ssl-key\) \S+other-client\.key: not the private key of the certificate in SYNCORD_OVN_SSL_CERT \(--ovn-ssl-cert\) \S+client\.crt$/,
      ],
    ];
    for (const [over, message] of cases) {
      let err: unknown;
      try {
        ovnOptionsFromEnv(sslEnv(over));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(over)).to.be.an('error');
      const text = (err as Error).message;
      expect(text, JSON.stringify(over)).to.match(message);
      expectNoKeyMaterial(text);
    }
  });

  it('ignores the variables with a tcp: or unix: remote, saying so once in the log', () => {
    for (const remote of ['tcp:127.0.0.1:6641', 'unix:/run/ovn/ovnnb_db.sock']) {
      const log: string[] = [];
      // Files that do not exist: they are not read.
      const options = ovnOptionsFromEnv(
        {
          OVN_NB_DB: remote,
          SYNCORD_OVN_SSL_KEY: join(pki.dir, 'no.key'),
          SYNCORD_OVN_SSL_CERT: join(pki.dir, 'no.crt'),
          SYNCORD_OVN_SSL_CA: join(pki.dir, 'no-ca.crt'),
        },
        (l) => log.push(l),
      );
      expect(options?.nbEndpoint).to.equal(remote);
      expect(options?.ssl).to.be.undefined;
      expect(log, log.join('\n')).to.have.length(1);
      expect(log[0]).to.equal(
        'ovn: SYNCORD_OVN_SSL_KEY (--ovn-ssl-key), SYNCORD_OVN_SSL_CERT (--ovn-ssl-cert), ' +
          `SYNCORD_OVN_SSL_CA (--ovn-ssl-ca) ignored: OVN_NB_DB ${remote} is not an ssl: remote`,
      );
    }
  });

  it('takes --ovn-ssl-key/--ovn-ssl-cert/--ovn-ssl-ca over the variables', () => {
    const flags: OvnSslFiles = { key: pki.otherClientKey, cert: pki.otherClientCert };
    const options = ovnOptionsFromEnv(sslEnv(), undefined, flags);
    expect(options?.ssl?.key).to.deep.equal(readFileSync(pki.otherClientKey));
    expect(options?.ssl?.cert).to.deep.equal(readFileSync(pki.otherClientCert));
    expect(options?.ssl?.ca).to.deep.equal(readFileSync(pki.caCert));
    // A flag's key that is not the variable's certificate's: the flag was used, and is named.
    expect(() => ovnOptionsFromEnv(sslEnv(), undefined, { key: pki.otherClientKey })).to.throw(
      /^--ovn-ssl-key \S+other-client\.key: not the private key of the certificate in SYNCORD_OVN_SSL_CERT/,
    );
  });

  it('syncord serve refuses a bad --ovn-ssl-ca for an ssl: OVN_NB_DB before anything listens', async function () {
    this.timeout(120_000);
    const child = spawnServe(
      {
        OVN_NB_DB: server.ssl,
        OVN_SB_DB: undefined,
        SYNCORD_OVN_SSL_KEY: pki.clientKey,
        SYNCORD_OVN_SSL_CERT: pki.clientCert,
        SYNCORD_OVN_SSL_CA: pki.caCert,
      },
      { args: ['--no-sync', '--ovn-ssl-ca', pki.clientKey], stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited(child);
    clearTimeout(timer);
    expect(child.exitCode, stderr).to.equal(1);
    expect(stderr).to.match(/^syncord: --ovn-ssl-ca \S+client\.key: not a PEM certificate/);
    expect(stderr.trim().split('\n'), stderr).to.have.length(1);
    expectNoKeyMaterial(stderr);
  });
});
