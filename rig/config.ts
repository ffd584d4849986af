// Where the rig keeps things and which ports it uses. Everything is overridable from the
// environment so that two rigs (or a rig and a developer's own servers) can live side by side.
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const rigDir = dirname(fileURLToPath(import.meta.url));
export const projectDir = dirname(rigDir);

export interface Versions {
  kubernetes: string;
  etcd: string;
  kwok: string;
  grpcurl: string;
  ghz: string;
  helm: string;
  promtool: string;
  prometheusOperator: string;
  multus: string;
  kubevirt: string;
  go: string;
}

export const versions: Versions = JSON.parse(
  readFileSync(join(rigDir, 'versions.json'), 'utf8'),
) as Versions;

export interface RigConfig {
  /** Build cache: binaries, Go module and build caches, keyed by version. */
  cacheDir: string;
  /** One run directory: every component's data, config and logs. */
  runDir: string;
  ports: {
    postgres: number;
    etcd: number;
    etcdPeer: number;
    apiserver: number;
    controllerManager: number;
    scheduler: number;
    kwok: number;
    ovnNb: number;
    ovnSb: number;
    /** The reference VTN server (gRPC). */
    vtn: number;
    /** OpenStack, only with `rig up --with openstack`: base + 5000 and up, on 127.0.0.1. */
    mariadb: number;
    rabbitmq: number;
    /** Erlang's port mapper and RabbitMQ's distribution port, both on 127.0.0.1. */
    epmd: number;
    rabbitmqDist: number;
    keystone: number;
    glance: number;
    placement: number;
    novaApi: number;
    neutron: number;
  };
  /** How many fake nodes kwok manages. */
  nodes: number;
}

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) {
    throw new Error(`${name}=${raw}: not a port number`);
  }
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RigConfig {
  const cacheDir = env.SYNCORD_CACHE_DIR ?? join(homedir(), '.cache', 'syncord');
  // /tmp rather than the home directory: PostgreSQL runs as an unprivileged user when the rig
  // runs as root, and it must be able to reach its data directory.
  const runDir = env.SYNCORD_RIG_DIR ?? join('/tmp', `syncord-rig-${userInfo().uid}`);
  const base = intFromEnv('SYNCORD_RIG_PORT_BASE', 16000);
  const nodes = Number(env.SYNCORD_RIG_NODES ?? '2');
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) {
    throw new Error(
      `SYNCORD_RIG_NODES=${env.SYNCORD_RIG_NODES ?? ''}: must be an integer from 1 to 50`,
    );
  }
  return {
    cacheDir,
    runDir,
    ports: {
      postgres: base + 432,
      etcd: base + 379,
      etcdPeer: base + 380,
      apiserver: base + 443,
      controllerManager: base + 257,
      scheduler: base + 259,
      kwok: base + 80,
      ovnNb: base + 641,
      ovnSb: base + 642,
      vtn: base + 551,
      mariadb: base + 5306,
      rabbitmq: base + 5672,
      epmd: base + 5369,
      rabbitmqDist: base + 5673,
      keystone: base + 5000,
      glance: base + 5292,
      placement: base + 5778,
      novaApi: base + 5774,
      neutron: base + 5696,
    },
    nodes,
  };
}
