// Reading the PEM files that `syncord serve --tls-cert/--tls-key/--tls-client-ca` (or their
// environment variables) name, checking each is what its flag says before anything starts; and
// the same for a client of the API (--ca, --cert, --key).
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { keyMatches, notACertificate, notAPrivateKey, type ServingTls } from '../api/tls.js';
import { CliError } from './format.js';

/** A file named by a flag or, when the flag is absent, by an environment variable. */
interface Named {
  file: string;
  /** How the user gave it, for messages: "--tls-cert" or "SYNCORD_TLS_CERT". */
  via: string;
}

function pick(
  flag: string,
  value: string | undefined,
  env: string,
  via?: string,
): Named | undefined {
  if (value !== undefined && value !== '') return { file: value, via: via ?? flag };
  const fromEnv = process.env[env];
  if (fromEnv !== undefined && fromEnv !== '') return { file: fromEnv, via: `${env} (${flag})` };
  return undefined;
}

function read(n: Named): Buffer {
  try {
    return readFileSync(n.file);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CliError(`${n.via} ${n.file}: cannot read it: ${reason}`);
  }
}

function certificate(n: Named): Buffer {
  const pem = read(n);
  const why = notACertificate(pem);
  if (why) throw new CliError(`${n.via} ${n.file}: ${why}`);
  return pem;
}

/** The key file, checked to be a private key and the certificate's. */
function privateKeyOf(key: Named, certPem: Buffer, cert: Named): Buffer {
  const pem = read(key);
  const why = notAPrivateKey(pem);
  if (why) throw new CliError(`${key.via} ${key.file}: ${why}`);
  if (!keyMatches(certPem, pem)) {
    throw new CliError(
      `${key.via} ${key.file}: not the private key of the certificate in ${cert.via} ${cert.file}`,
    );
  }
  return pem;
}

/**
 * The serving TLS material from the flags, falling back to SYNCORD_TLS_CERT, SYNCORD_TLS_KEY and
 * SYNCORD_TLS_CLIENT_CA (a flag wins over its variable); undefined when neither names a
 * certificate or key (plaintext).
 */
export function servingTls(
  flags: {
    tlsCert?: string;
    tlsKey?: string;
    tlsClientCa?: string;
  },
  /** How each value was given when not by its flag (e.g. the configuration file's key). */
  via: { tlsCert?: string; tlsKey?: string; tlsClientCa?: string } = {},
): ServingTls | undefined {
  const cert = pick('--tls-cert', flags.tlsCert, 'SYNCORD_TLS_CERT', via.tlsCert);
  const key = pick('--tls-key', flags.tlsKey, 'SYNCORD_TLS_KEY', via.tlsKey);
  const clientCa = pick(
    '--tls-client-ca',
    flags.tlsClientCa,
    'SYNCORD_TLS_CLIENT_CA',
    via.tlsClientCa,
  );
  if (cert && !key) {
    throw new CliError(`${cert.via} needs --tls-key (the certificate's private key, PEM)`);
  }
  if (key && !cert) {
    throw new CliError(`${key.via} needs --tls-cert (the certificate for the key, PEM)`);
  }
  if (!cert || !key) {
    if (clientCa) {
      throw new CliError(
        `${clientCa.via} needs --tls-cert and --tls-key: client certificates are checked only over TLS`,
      );
    }
    return undefined;
  }
  const certPem = certificate(cert);
  const keyPem = privateKeyOf(key, certPem, cert);
  return {
    cert: certPem,
    key: keyPem,
    ...(clientCa ? { clientCa: certificate(clientCa) } : {}),
  };
}

/**
 * Credentials for a client of the gRPC model API: with --ca (SYNCORD_API_CA) TLS trusting that
 * CA, with --cert and --key (SYNCORD_API_CERT, SYNCORD_API_KEY) also presenting a client
 * certificate (mutual TLS); with none of them, plaintext as before.
 */
export function apiClientCredentials(flags: {
  ca?: string;
  cert?: string;
  key?: string;
}): grpc.ChannelCredentials {
  const ca = pick('--ca', flags.ca, 'SYNCORD_API_CA');
  const cert = pick('--cert', flags.cert, 'SYNCORD_API_CERT');
  const key = pick('--key', flags.key, 'SYNCORD_API_KEY');
  if (cert && !key) throw new CliError(`${cert.via} needs --key (the certificate's private key)`);
  if (key && !cert) throw new CliError(`${key.via} needs --cert (the certificate for the key)`);
  if (cert && !ca) {
    throw new CliError(`${cert.via} needs --ca: a client certificate is presented only over TLS`);
  }
  if (!ca) return grpc.credentials.createInsecure();
  const caPem = certificate(ca);
  if (!cert || !key) return grpc.credentials.createSsl(caPem);
  const certPem = certificate(cert);
  const keyPem = privateKeyOf(key, certPem, cert);
  return grpc.credentials.createSsl(caPem, keyPem, certPem);
}
