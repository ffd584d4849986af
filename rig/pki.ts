// The rig cluster's credentials: a CA, the apiserver's serving certificate, the service-account
// signing key, and one bearer token per client, all made once per run directory with openssl.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { run } from './process.js';

export interface Credentials {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  saKey: string;
  saPub: string;
  tokenFile: string;
  tokens: Record<ClientName, string>;
}

/** Each client of the apiserver and the identity it authenticates as. */
const clients = {
  admin: { user: 'syncord-admin', groups: ['system:masters'] },
  'kube-controller-manager': { user: 'system:kube-controller-manager', groups: [] },
  'kube-scheduler': { user: 'system:kube-scheduler', groups: [] },
  // kwok plays every kubelet: it writes node and pod status for all fake nodes.
  kwok: { user: 'kwok', groups: ['system:masters'] },
} as const;
export type ClientName = keyof typeof clients;

export async function ensureCredentials(runDir: string): Promise<Credentials> {
  const dir = join(runDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = (f: string) => join(dir, f);
  const creds = {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    apiserverCert: p('apiserver.crt'),
    apiserverKey: p('apiserver.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
    tokenFile: p('tokens.csv'),
  };
  /** A new RSA key and an X.509 certificate for it, self-signed or signed by the rig CA. */
  const certificate = (cn: string, key: string, cert: string, extra: string[] = []) =>
    run('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650'],
      ...['-subj', `/CN=${cn}`, '-keyout', key, '-out', cert, ...extra],
    ]);
  if (!existsSync(creds.caCert)) {
    await certificate('syncord-rig-ca', creds.caKey, creds.caCert);
  }
  if (!existsSync(creds.apiserverCert)) {
    const san = [
      'IP:127.0.0.1',
      'IP:10.96.0.1',
      'DNS:localhost',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ].join(',');
    await certificate('kube-apiserver', creds.apiserverKey, creds.apiserverCert, [
      ...['-CA', creds.caCert, '-CAkey', creds.caKey],
      ...['-addext', `subjectAltName=${san}`, '-addext', 'extendedKeyUsage=serverAuth'],
      ...['-addext', 'basicConstraints=critical,CA:FALSE'],
    ]);
  }
  if (!existsSync(creds.saKey)) {
    await run('openssl', ['genrsa', '-out', creds.saKey, '2048']);
    await run('openssl', ['rsa', '-in', creds.saKey, '-pubout', '-out', creds.saPub]);
  }
  if (!existsSync(creds.tokenFile)) {
    const lines = Object.entries(clients).map(([, c]) => {
      const token = randomBytes(24).toString('hex');
      const groups = c.groups.length ? `,"${c.groups.join(',')}"` : '';
      return `${token},${c.user},${c.user}${groups}`;
    });
    writeFileSync(creds.tokenFile, lines.join('\n') + '\n', { mode: 0o600 });
  }
  const tokens = {} as Record<ClientName, string>;
  const rows = readFileSync(creds.tokenFile, 'utf8').trim().split('\n');
  for (const [name, c] of Object.entries(clients) as [ClientName, (typeof clients)[ClientName]][]) {
    const row = rows.find((r) => r.split(',')[1] === c.user);
    if (!row) throw new Error(`${creds.tokenFile} has no token for ${c.user}`);
    tokens[name] = row.split(',')[0] ?? '';
  }
  return { ...creds, tokens };
}

/** A kubeconfig for one client, with the CA embedded so the file stands alone. */
export function writeKubeconfig(
  file: string,
  creds: Credentials,
  client: ClientName,
  server: string,
): void {
  const ca = readFileSync(creds.caCert).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'syncord-rig', cluster: { server, 'certificate-authority-data': ca } }],
    users: [{ name: client, user: { token: creds.tokens[client] } }],
    contexts: [{ name: 'syncord-rig', context: { cluster: 'syncord-rig', user: client } }],
    'current-context': 'syncord-rig',
  };
  writeFileSync(file, stringify(config), { mode: 0o600 });
}
