// `syncord serve`: the synchronizer (leader election, engine, steps and policies), the gRPC model
// API and, over HTTP, /healthz, /readyz, /metrics, the HTTP/JSON gateway and the GUI.
import type { Command } from 'commander';
import { defaultRegistry } from '../models/index.js';
import { defaultSteps } from '../steps/index.js';
import { ownedObjects } from '../steps/owned.js';
import { serve } from '../synchronizer/serve.js';
import { CliError } from './format.js';
import { servingTls } from './tls.js';

function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new CliError(`--listen ${text}: expected host:port or port, e.g. 127.0.0.1:8080`);
  }
  return { host: m[1] ?? '127.0.0.1', port };
}

export function addServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'run the synchronizer and the gRPC model API, with /healthz, /readyz and /metrics over HTTP (the first admin from SYNCORD_ADMIN_PASSWORD)',
    )
    .option('--listen <host:port>', 'where the HTTP endpoints listen', '127.0.0.1:8080')
    .option('--workers <n>', 'objects reconciled at once', '8')
    .option('--resync <seconds>', 'period of the full level-triggered resync', '300')
    .option('--no-sync', 'serve the endpoints without synchronizing (e.g. an API-only replica)')
    .option(
      '--api-listen <host:port>',
      'where the gRPC model API listens ("off": not served)',
      '127.0.0.1:50051',
    )
    .option(
      '--tls-cert <file>',
      'serve TLS only, on the HTTP endpoints and the gRPC API, with this certificate (PEM; env SYNCORD_TLS_CERT)',
    )
    .option('--tls-key <file>', "the certificate's private key (PEM; env SYNCORD_TLS_KEY)")
    .option(
      '--tls-client-ca <file>',
      'mutual TLS: clients must present a certificate signed by this CA (PEM; env SYNCORD_TLS_CLIENT_CA)',
    )
    .option(
      '--ovn-ssl-key <file>',
      "for an ssl: OVN_NB_DB/OVN_SB_DB, this client's private key (PEM; env SYNCORD_OVN_SSL_KEY)",
    )
    .option(
      '--ovn-ssl-cert <file>',
      "for an ssl: OVN remote, this client's certificate (PEM; env SYNCORD_OVN_SSL_CERT)",
    )
    .option(
      '--ovn-ssl-ca <file>',
      "for an ssl: OVN remote, the CA that signed the ovsdb-server's certificate (PEM; env SYNCORD_OVN_SSL_CA)",
    )
    .addHelpText(
      'after',
      `
TLS: with --tls-cert and --tls-key both the gRPC API and the HTTP endpoints (/healthz, /readyz,
/metrics, /api/v1/ and the GUI) serve TLS only; plaintext clients are refused. A flag wins over
its environment variable. The files are read once, at start.

OVN over TLS: an ssl:HOST:PORT OVN_NB_DB (or OVN_SB_DB) needs --ovn-ssl-key, --ovn-ssl-cert and
--ovn-ssl-ca, as ovn-nbctl's --private-key, --certificate and --ca-cert: the server's certificate
must be signed by that CA (its name is not checked, as ovs does not); the server checks ours.
With tcp: and unix: remotes they are ignored (the log says so).`,
    )
    .action(
      async (opts: {
        listen: string;
        workers: string;
        resync: string;
        sync: boolean;
        apiListen: string;
        tlsCert?: string;
        tlsKey?: string;
        tlsClientCa?: string;
        ovnSslKey?: string;
        ovnSslCert?: string;
        ovnSslCa?: string;
      }) => {
        const { host, port } = parseListen(opts.listen);
        const api = opts.apiListen === 'off' ? false : parseListen(opts.apiListen);
        const workers = Number(opts.workers);
        const resync = Number(opts.resync);
        if (!Number.isInteger(workers) || workers < 1) {
          throw new CliError(`--workers ${opts.workers}: a positive integer`);
        }
        if (!(resync > 0))
          throw new CliError(`--resync ${opts.resync}: a positive number of seconds`);
        const tls = servingTls(opts);
        const { steps, policies } = defaultSteps({
          ovnSsl: { key: opts.ovnSslKey, cert: opts.ovnSslCert, ca: opts.ovnSslCa },
        });
        // The GUI lists what the steps that run own (their backends: the names' first part).
        const backends = new Set(steps.map((s) => s.name.split('/')[0] ?? s.name));
        const server = await serve({
          registry: defaultRegistry(),
          steps,
          policies,
          owned: (models, obj) => ownedObjects(models, obj, { backends }),
          host,
          port,
          workers,
          resyncMs: resync * 1000,
          sync: opts.sync,
          api,
          ...(tls ? { tls } : {}),
        });
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            process.stderr.write(`[syncord] ${signal}: stopping\n`);
            server
              .stop()
              .catch((err: unknown) => {
                process.stderr.write(`[syncord] stop failed: ${String(err)}\n`);
              })
              .finally(resolve);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      },
    );
}
