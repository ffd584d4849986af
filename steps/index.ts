// The steps and policies `syncord serve` runs: every service package's, registered here.
import { readFileSync } from 'node:fs';
import { keyMatches, notACertificate, notAPrivateKey } from '../api/tls.js';
import type { OvsdbSsl } from '../backends/ovn/ovsdb.js';
import type { AdoptSource } from '../synchronizer/adopt.js';
import type { ModelPolicy, SyncStep } from '../synchronizer/engine.js';
import { kubernetesStepSet, type KubernetesStepOptions } from './kubernetes/index.js';
import { kubernetesAdoptSource } from './kubernetes/adopt.js';
import { ovnStepSet, type OvnStepOptions } from './ovn/index.js';
import { openstackStepSet, type OpenStackStepOptions } from './openstack/index.js';
import { vsgPolicy } from './vsg/policy.js';
import { vtnOptionsFromEnv, vtnStepSet, type VtnStepOptions } from './vtn/index.js';

export interface StepSet {
  steps: SyncStep[];
  policies: ModelPolicy[];
  /** Where `syncord adopt` finds backend objects Syncord did not make (synchronizer/adopt.ts). */
  sources: AdoptSource[];
}

export interface DefaultStepOptions {
  kubernetes?: KubernetesStepOptions;
  /** The OVN steps' options; default from $OVN_NB_DB and $OVN_SB_DB (none: no OVN steps). */
  ovn?: OvnStepOptions;
  /**
   * The OVN client's TLS files as `syncord serve --ovn-ssl-key/--ovn-ssl-cert/--ovn-ssl-ca` give
   * them: each wins over its variable (see ovnOptionsFromEnv). Unused when `ovn` is given.
   */
  ovnSsl?: OvnSslFiles;
  /** The VTN steps' options; default from $SYNCORD_VTN_ADDRESS (none: no VTN steps). */
  vtn?: VtnStepOptions;
  /** The OpenStack steps' options (they act only for Clusters of kind openstack); false: none. */
  openstack?: OpenStackStepOptions | false;
  log?: (line: string) => void;
}

/** The files of the OVN client's TLS material, as flags give them (paths; PEM). */
export interface OvnSslFiles {
  /** This client's private key (--ovn-ssl-key; ovn-nbctl's --private-key). */
  key?: string;
  /** This client's certificate (--ovn-ssl-cert; ovn-nbctl's --certificate). */
  cert?: string;
  /** The CA certificate the servers' certificates must be signed by (--ovn-ssl-ca; --ca-cert). */
  ca?: string;
  /** How each was given when not by its flag, for messages (e.g. the configuration file's key). */
  via?: { key?: string; cert?: string; ca?: string };
}

/** Each file: its variable, its flag, and what it holds. */
const OVN_SSL_FILES = {
  key: { env: 'SYNCORD_OVN_SSL_KEY', flag: '--ovn-ssl-key', what: 'private key' },
  cert: { env: 'SYNCORD_OVN_SSL_CERT', flag: '--ovn-ssl-cert', what: 'certificate' },
  ca: { env: 'SYNCORD_OVN_SSL_CA', flag: '--ovn-ssl-ca', what: 'CA certificate' },
} as const;

/** "a", "a and b", "a, b and c". */
const and = (items: readonly string[]): string =>
  items.length > 1
    ? `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`
    : (items[0] ?? '');

/** A file named by a flag or, when the flag is absent, by its variable (as cli/tls.ts). */
interface Named {
  file: string;
  /** How it was given, for messages: "--ovn-ssl-key" or "SYNCORD_OVN_SSL_KEY (--ovn-ssl-key)". */
  via: string;
}

/**
 * The OVN client's key, certificate and CA certificate for `ssl:` remotes, from the flags
 * (`files`) or else SYNCORD_OVN_SSL_KEY, SYNCORD_OVN_SSL_CERT and SYNCORD_OVN_SSL_CA: each read
 * once and checked to be what it is named for (PEM of the right kind, the key the
 * certificate's). Throws, naming the variable (or flag), the path and the reason (never the
 * file's contents), when an `ssl:` remote lacks one or one is unusable. Without an `ssl:` remote
 * the files are not read; when some are named anyway, `log` says once that they are ignored.
 */
function ovnSslFromFiles(
  remotes: Record<string, string>,
  env: NodeJS.ProcessEnv,
  files: OvnSslFiles,
  log?: (line: string) => void,
): OvsdbSsl | undefined {
  const pick = (k: keyof typeof OVN_SSL_FILES): Named | undefined => {
    const { env: name, flag } = OVN_SSL_FILES[k];
    const fromFlag = files[k];
    if (fromFlag !== undefined && fromFlag !== '') {
      return { file: fromFlag, via: files.via?.[k] ?? flag };
    }
    const fromEnv = env[name]?.trim();
    if (fromEnv) return { file: fromEnv, via: `${name} (${flag})` };
    return undefined;
  };
  const named = { key: pick('key'), cert: pick('cert'), ca: pick('ca') };
  const given = Object.values(named).filter((n): n is Named => n !== undefined);
  const ssl = Object.entries(remotes).filter(([, r]) => r.startsWith('ssl:'));
  if (ssl.length === 0) {
    if (given.length) {
      const set = Object.entries(remotes);
      const why = set.length
        ? `${and(set.map(([v, r]) => `${v} ${r}`))} ${set.length > 1 ? 'are' : 'is'} not an ssl: remote`
        : 'OVN_NB_DB is not set';
      log?.(`ovn: ${given.map((n) => n.via).join(', ')} ignored: ${why}`);
    }
    return undefined;
  }
  const missing = (Object.keys(OVN_SSL_FILES) as (keyof typeof OVN_SSL_FILES)[]).filter(
    (k) => !named[k],
  );
  if (missing.length) {
    const [variable, remote] = ssl[0]!;
    const list = missing.map((k) => OVN_SSL_FILES[k]);
    throw new Error(
      `${variable} ${remote} needs ${and(list.map((f) => f.env))} ` +
        `(${list.map((f) => f.flag).join(', ')}): the ${and(list.map((f) => f.what))} ` +
        'for an ssl: remote (PEM files)',
    );
  }
  const read = (n: Named): Buffer => {
    try {
      return readFileSync(n.file);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`${n.via} ${n.file}: cannot read it: ${reason}`, { cause: err });
    }
  };
  const certificate = (n: Named): Buffer => {
    const pem = read(n);
    const why = notACertificate(pem);
    if (why) throw new Error(`${n.via} ${n.file}: ${why}`);
    return pem;
  };
  const { key, cert, ca } = named as Record<keyof typeof OVN_SSL_FILES, Named>;
  const caPem = certificate(ca);
  const certPem = certificate(cert);
  const keyPem = read(key);
  const why = notAPrivateKey(keyPem);
  if (why) throw new Error(`${key.via} ${key.file}: ${why}`);
  if (!keyMatches(certPem, keyPem)) {
    throw new Error(
      `${key.via} ${key.file}: not the private key of the certificate in ${cert.via} ${cert.file}`,
    );
  }
  return { key: keyPem, cert: certPem, ca: caPem };
}

/**
 * The OVN options the environment gives: OVN_NB_DB (required), OVN_SB_DB, SYNCORD_INSTANCE,
 * SYNCORD_OVN_GATEWAY_CHASSIS, and for `ssl:` remotes SYNCORD_OVN_SSL_KEY, SYNCORD_OVN_SSL_CERT
 * and SYNCORD_OVN_SSL_CA (files, PEM; `files`, from flags, win over them). An `ssl:` remote
 * without all three, or a file that cannot be read or is not what it is named for, throws here,
 * before anything connects.
 */
export function ovnOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  log?: (line: string) => void,
  files: OvnSslFiles = {},
): OvnStepOptions | undefined {
  const nbEndpoint = env.OVN_NB_DB?.trim();
  const sbEndpoint = env.OVN_SB_DB?.trim() || undefined;
  // Without a northbound database there are no OVN steps, whatever OVN_SB_DB says.
  const remotes = nbEndpoint
    ? { OVN_NB_DB: nbEndpoint, ...(sbEndpoint ? { OVN_SB_DB: sbEndpoint } : {}) }
    : {};
  const ssl = ovnSslFromFiles(remotes, env, files, log);
  if (!nbEndpoint) return undefined;
  const gateways = env.SYNCORD_OVN_GATEWAY_CHASSIS?.split(/[\s,]+/).filter(Boolean);
  return {
    nbEndpoint,
    ...(sbEndpoint ? { sbEndpoint } : {}),
    ...(ssl ? { ssl } : {}),
    ...(env.SYNCORD_INSTANCE ? { instance: env.SYNCORD_INSTANCE } : {}),
    ...(gateways?.length ? { gatewayChassis: gateways } : {}),
    ...(log ? { log } : {}),
  };
}

export function defaultSteps(options: DefaultStepOptions = {}): StepSet {
  const log = options.log ?? ((line: string) => process.stderr.write(`[syncord] ${line}\n`));
  const ovn = options.ovn ?? ovnOptionsFromEnv(process.env, log, options.ovnSsl);
  if (!ovn) log('OVN steps skipped: OVN_NB_DB is not set');
  const vtn = options.vtn ?? vtnOptionsFromEnv(process.env, log);
  if (!vtn) log('VTN steps skipped: SYNCORD_VTN_ADDRESS is not set');
  const ovnSet = ovn ? ovnStepSet(ovn) : undefined;
  const vtnSet = vtn ? vtnStepSet(vtn) : undefined;
  const kubeSet = kubernetesStepSet(options.kubernetes);
  const openstackSet =
    options.openstack === false ? undefined : openstackStepSet({ log, ...options.openstack });
  // OVN first: a Port's logical switch port is made before the Kubernetes step waits for the
  // pod to report the interface (the first step that waits stops the rest).
  return {
    // VTN last: a host is detected once the pod runs.
    steps: [
      ...(ovnSet ? ovnSet.steps : []),
      ...kubeSet.steps,
      ...(openstackSet ? openstackSet.steps : []),
      ...(vtnSet ? vtnSet.steps : []),
    ],
    policies: [vsgPolicy],
    sources: [
      ...(ovnSet ? [ovnSet.source] : []),
      kubernetesAdoptSource(kubeSet.runtime, { ovn: Boolean(ovnSet) }),
      ...(openstackSet ? [openstackSet.source] : []),
      ...(vtnSet ? [vtnSet.source] : []),
    ],
  };
}
