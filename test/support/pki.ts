// A throwaway PKI made with openssl, for the TLS tests: a CA, a server certificate for 127.0.0.1
// and a client certificate, and an unrelated second CA with a client certificate of its own;
// more certificates are issued into the same directory with issue().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../rig/process.js';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCaCert: string;
  otherCaKey: string;
  otherClientCert: string;
  otherClientKey: string;
}

export interface Issued {
  cert: string;
  key: string;
}

/**
 * A certificate and its key (files `<name>.crt`, `<name>.key` in the PKI's directory): self-signed
 * (a CA) without `by`, else signed by `by` for `usage` (extendedKeyUsage, e.g. serverAuth), with a
 * subjectAltName when `san` is given.
 */
export async function issue(
  dir: string,
  name: string,
  o: { cn?: string; by?: Issued; usage?: string; san?: string } = {},
): Promise<Issued> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const signed = o.by
    ? [
        ...['-CA', o.by.cert, '-CAkey', o.by.key],
        ...['-addext', `extendedKeyUsage=${o.usage ?? 'serverAuth,clientAuth'}`],
        ...['-addext', 'basicConstraints=critical,CA:FALSE'],
        ...(o.san ? ['-addext', `subjectAltName=${o.san}`] : []),
      ]
    : [];
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2'],
    ...['-subj', `/CN=${o.cn ?? name}`, '-keyout', key, '-out', cert, ...signed],
  ]);
  return { cert, key };
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, and a second CA with its own client. */
export async function makePki(prefix = 'syncord-tls-'): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ca = await issue(dir, 'ca', { cn: 'syncord-test-ca' });
  const otherCa = await issue(dir, 'other-ca');
  const server = await issue(dir, 'server', {
    cn: '127.0.0.1',
    by: ca,
    usage: 'serverAuth',
    san: 'IP:127.0.0.1',
  });
  const client = await issue(dir, 'client', { cn: 'syncord-client', by: ca, usage: 'clientAuth' });
  const other = await issue(dir, 'other-client', {
    cn: 'stranger',
    by: otherCa,
    usage: 'clientAuth',
  });
  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    otherCaCert: otherCa.cert,
    otherCaKey: otherCa.key,
    otherClientCert: other.cert,
    otherClientKey: other.key,
  };
}

/** Removes the PKI's directory. */
export function removePki(pki: Pki): void {
  rmSync(pki.dir, { recursive: true, force: true });
}
