// TLS for what `syncord serve` serves: the operator's own certificate and key (PEM), and
// optionally a CA whose certificates clients must present (mutual TLS). The same material makes
// the gRPC API's credentials and the HTTP endpoint's https options.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type https from 'node:https';
import * as grpc from '@grpc/grpc-js';

export interface ServingTls {
  /** The server's certificate (PEM; a chain may follow it). */
  cert: Buffer;
  /** Its private key (PEM). */
  key: Buffer;
  /** When given, clients must present a certificate signed by this CA (PEM). */
  clientCa?: Buffer;
}

/** Why `pem` is not a certificate (undefined: it is one), e.g. for a key given in its place. */
export function notACertificate(pem: Buffer): string | undefined {
  if (!pem.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
    return 'not a PEM certificate (no "BEGIN CERTIFICATE" block)';
  }
  try {
    new X509Certificate(pem);
    return undefined;
  } catch (err) {
    return `not a valid certificate: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Why `pem` is not a private key (undefined: it is one). */
export function notAPrivateKey(pem: Buffer): string | undefined {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString('latin1'))) {
    return 'not a PEM private key (no "BEGIN ... PRIVATE KEY" block)';
  }
  try {
    createPrivateKey(pem);
    return undefined;
  } catch (err) {
    return `not a valid private key: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Whether the key is the certificate's (the certificate's public key is the key's). */
export function keyMatches(cert: Buffer, key: Buffer): boolean {
  return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
}

/** The gRPC server's credentials: TLS only; with a client CA, a client certificate is required. */
export function grpcServerCredentials(tls: ServingTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    tls.clientCa ?? null,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    tls.clientCa !== undefined,
  );
}

/** node:https options for the HTTP endpoint, the same policy as the gRPC API's. */
export function httpsOptions(tls: ServingTls): https.ServerOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  };
}
