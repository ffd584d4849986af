// `syncord serve`: the synchronizer (leader election, engine, steps and policies), the gRPC model
// API and, over HTTP, /healthz, /readyz, /metrics, the HTTP/JSON gateway and the GUI.
import { Option, type Command } from 'commander';
import { defaultRegistry } from '../models/index.js';
import { defaultSteps } from '../steps/index.js';
import { ownedObjects } from '../steps/owned.js';
import { serve } from '../synchronizer/serve.js';
import { readConfigFile, resolveSettings, type Resolved, type SettingSpec } from './config.js';
import { CliError } from './format.js';
import { servingTls } from './tls.js';

function parseListen(r: Resolved): { host: string; port: number } {
  const text = r.value ?? '';
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new CliError(`${r.via} ${text}: expected host:port or port, e.g. 127.0.0.1:8080`);
  }
  return { host: m[1] ?? '127.0.0.1', port };
}

/** What a replica runs: the synchronizer, the API (gRPC, gateway and GUI), or both. */
export const ROLES = ['all', 'api', 'sync'] as const;
export type Role = (typeof ROLES)[number];

/**
 * serve's settings: each a flag (bar those marked), its variable, and a key of the configuration
 * file. Precedence: flag, then variable, then file, then default.
 */
export const SERVE_SETTINGS: readonly SettingSpec[] = [
  { key: 'role', env: 'SYNCORD_ROLE' },
  { key: 'listen', env: 'SYNCORD_LISTEN' },
  { key: 'api-listen', env: 'SYNCORD_API_LISTEN' },
  { key: 'workers', env: 'SYNCORD_WORKERS' },
  { key: 'resync', env: 'SYNCORD_RESYNC' },
  { key: 'shutdown-grace', env: 'SYNCORD_SHUTDOWN_GRACE' },
  { key: 'tls-cert', env: 'SYNCORD_TLS_CERT' },
  { key: 'tls-key', env: 'SYNCORD_TLS_KEY' },
  { key: 'tls-client-ca', env: 'SYNCORD_TLS_CLIENT_CA' },
  { key: 'ovn-ssl-key', env: 'SYNCORD_OVN_SSL_KEY' },
  { key: 'ovn-ssl-cert', env: 'SYNCORD_OVN_SSL_CERT' },
  { key: 'ovn-ssl-ca', env: 'SYNCORD_OVN_SSL_CA' },
  // No flags: secrets and endpoints, from the environment or the file (a file's value is put
  // into the variable when the variable is unset, and messages name the variable).
  { key: 'database-url', env: 'DATABASE_URL', flag: false },
  { key: 'admin-user', env: 'SYNCORD_ADMIN_USER', flag: false },
  { key: 'admin-password', env: 'SYNCORD_ADMIN_PASSWORD', flag: false },
  { key: 'kubeconfig', env: 'SYNCORD_KUBECONFIG', flag: false },
  { key: 'ovn-nb-db', env: 'OVN_NB_DB', flag: false },
  { key: 'ovn-sb-db', env: 'OVN_SB_DB', flag: false },
  { key: 'ovn-gateway-chassis', env: 'SYNCORD_OVN_GATEWAY_CHASSIS', flag: false },
  { key: 'vtn-address', env: 'SYNCORD_VTN_ADDRESS', flag: false },
  { key: 'vtn-ca', env: 'SYNCORD_VTN_CA', flag: false },
  { key: 'api-rate', env: 'SYNCORD_API_RATE', flag: false },
];

function positiveNumber(r: Resolved, integer: boolean, zero = false): number {
  const n = Number(r.value);
  const ok = r.value !== undefined && r.value.trim() !== '' && Number.isFinite(n);
  if (!ok || (integer && !Number.isInteger(n)) || n < 0 || (!zero && n === 0)) {
    const what = integer
      ? 'a positive integer'
      : `a ${zero ? 'non-negative' : 'positive'} number of seconds`;
    throw new CliError(`${r.via} ${r.value ?? ''}: ${what}`);
  }
  return n;
}

/** The settings of one serve, resolved and checked. */
export interface ServeSettings {
  role: Role;
  listen: { host: string; port: number };
  api: { host: string; port: number } | false;
  workers: number;
  resyncMs: number;
  shutdownGraceMs: number;
  all: Map<string, Resolved>;
}

/**
 * Reads the configuration file (if any), resolves every setting, checks them (naming where each
 * wrong value came from), and puts the file's flagless settings into their variables.
 */
export function serveSettings(
  command: Command,
  env: NodeJS.ProcessEnv = process.env,
): ServeSettings {
  const opts = command.opts<{ config?: string; sync: boolean }>();
  const configPath =
    command.getOptionValueSource('config') === 'cli'
      ? opts.config
      : env.SYNCORD_CONFIG || undefined;
  const file = configPath ? readConfigFile(configPath, SERVE_SETTINGS) : undefined;
  const all = resolveSettings(command, SERVE_SETTINGS, file, env);
  const get = (key: string): Resolved =>
    all.get(key) ?? { value: undefined, source: 'default', via: `--${key}` };
  const roleR = get('role');
  let role = roleR.value as Role;
  if (!ROLES.includes(role)) {
    throw new CliError(`${roleR.via} ${roleR.value ?? ''}: one of ${ROLES.join(', ')}`);
  }
  // --no-sync, the older spelling of --role api.
  if (!opts.sync) {
    if (roleR.source !== 'default' && role !== 'api') {
      throw new CliError(`--no-sync contradicts ${roleR.via} ${role}: --no-sync is --role api`);
    }
    role = 'api';
  }
  const listen = parseListen(get('listen'));
  const apiR = get('api-listen');
  const api = role === 'sync' || apiR.value === 'off' ? false : parseListen(apiR);
  const settings: ServeSettings = {
    role,
    listen,
    api,
    workers: positiveNumber(get('workers'), true),
    resyncMs: positiveNumber(get('resync'), false) * 1000,
    shutdownGraceMs: positiveNumber(get('shutdown-grace'), false, true) * 1000,
    all,
  };
  // Only once everything checked out: the file's flagless settings into their variables.
  for (const spec of SERVE_SETTINGS) {
    const r = get(spec.key);
    if (spec.flag === false && r.source === 'file' && r.value !== undefined) {
      env[spec.env] = r.value;
    }
  }
  return settings;
}

export function addServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'run the synchronizer and the gRPC model API, with /healthz, /readyz and /metrics over HTTP (the first admin from SYNCORD_ADMIN_PASSWORD)',
    )
    .option(
      '--config <file>',
      "a YAML file of settings: the flags' names without dashes, and the keys below (env SYNCORD_CONFIG)",
    )
    .addOption(
      new Option(
        '--role <role>',
        'all: synchronizer and API; api: the API, gateway and GUI only; sync: the synchronizer only (env SYNCORD_ROLE)',
      )
        .choices(ROLES)
        .default('all'),
    )
    .option(
      '--listen <host:port>',
      'where the HTTP endpoints listen (env SYNCORD_LISTEN)',
      '127.0.0.1:8080',
    )
    .option(
      '--api-listen <host:port>',
      'where the gRPC model API listens ("off": not served; env SYNCORD_API_LISTEN)',
      '127.0.0.1:50051',
    )
    .option('--workers <n>', 'objects reconciled at once (env SYNCORD_WORKERS)', '8')
    .option(
      '--resync <seconds>',
      'period of the full level-triggered resync (env SYNCORD_RESYNC)',
      '300',
    )
    .option(
      '--shutdown-grace <seconds>',
      'on SIGTERM, how long the reconciles in flight may run to their end before they are aborted and the leader lock is released (env SYNCORD_SHUTDOWN_GRACE)',
      '20',
    )
    .addOption(new Option('--no-sync', 'the same as --role api').hideHelp())
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
Settings: each flag has an environment variable (named in its help) and a key of the --config
file (the flag without its dashes). A flag wins over its variable, the variable over the file,
the file over the default. Settings with no flag, from the environment or the file only:
${SERVE_SETTINGS.filter((s) => s.flag === false)
  .map((s) => `  ${s.key.padEnd(20)} ${s.env}`)
  .join('\n')}
An unknown key in the file is an error.

Roles: several replicas may run on one database. Each serves /healthz, /readyz and /metrics;
those with the synchronizer (all, sync) campaign for the leader lock and one of them works;
those with the API (all, api) serve the gRPC API, the HTTP/JSON gateway and the GUI.

Shutdown: on SIGTERM or SIGINT the API stops taking calls, the reconciles in flight finish
(within --shutdown-grace) and the leader lock is released; a second signal exits at once.

TLS: with --tls-cert and --tls-key both the gRPC API and the HTTP endpoints (/healthz, /readyz,
/metrics, /api/v1/ and the GUI) serve TLS only; plaintext clients are refused. The files are
read once, at start.

OVN over TLS: an ssl:HOST:PORT OVN_NB_DB (or OVN_SB_DB) needs --ovn-ssl-key, --ovn-ssl-cert and
--ovn-ssl-ca, as ovn-nbctl's --private-key, --certificate and --ca-cert: the server's certificate
must be signed by that CA (its name is not checked, as ovs does not); the server checks ours.
With tcp: and unix: remotes they are ignored (the log says so).`,
    )
    .action(async (_opts: unknown, command: Command) => {
      const settings = serveSettings(command);
      const get = (key: string) => settings.all.get(key);
      // A file given by a flag or the file: passed on with its name; from a variable: left to
      // the reader of that variable (which names it).
      const given = (key: string): { value?: string; via?: string } => {
        const r = get(key);
        return r && (r.source === 'flag' || r.source === 'file') && r.value
          ? { value: r.value, via: r.via }
          : {};
      };
      const [cert, key, clientCa] = [given('tls-cert'), given('tls-key'), given('tls-client-ca')];
      const tls = servingTls(
        { tlsCert: cert.value, tlsKey: key.value, tlsClientCa: clientCa.value },
        { tlsCert: cert.via, tlsKey: key.via, tlsClientCa: clientCa.via },
      );
      const [sslKey, sslCert, sslCa] = [
        given('ovn-ssl-key'),
        given('ovn-ssl-cert'),
        given('ovn-ssl-ca'),
      ];
      const sync = settings.role !== 'api';
      const { steps, policies, sources } = defaultSteps({
        ovnSsl: {
          key: sslKey.value,
          cert: sslCert.value,
          ca: sslCa.value,
          via: { key: sslKey.via, cert: sslCert.via, ca: sslCa.via },
        },
      });
      // The GUI lists what the steps that run own (their backends: the names' first part).
      const backends = new Set(steps.map((s) => s.name.split('/')[0] ?? s.name));
      const server = await serve({
        registry: defaultRegistry(),
        steps,
        policies,
        owned: (models, obj) => ownedObjects(models, obj, { backends }),
        sources,
        host: settings.listen.host,
        port: settings.listen.port,
        workers: settings.workers,
        resyncMs: settings.resyncMs,
        shutdownGraceMs: settings.shutdownGraceMs,
        sync,
        api: settings.api,
        ...(tls ? { tls } : {}),
      });
      process.stderr.write(`[syncord] role ${settings.role}\n`);
      await new Promise<void>((resolve) => {
        let signalled = false;
        const stop = (signal: string) => {
          if (signalled) {
            process.stderr.write(`[syncord] ${signal} again: exiting now\n`);
            process.exit(1);
          }
          signalled = true;
          process.stderr.write(`[syncord] ${signal}: stopping\n`);
          server
            .stop()
            .then(() => {
              process.stderr.write('[syncord] stopped\n');
            })
            .catch((err: unknown) => {
              process.stderr.write(`[syncord] stop failed: ${String(err)}\n`);
            })
            .finally(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
