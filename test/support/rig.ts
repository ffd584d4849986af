// How tests find the rig: the environment `rig/rig env` prints (KUBECONFIG, DATABASE_URL,
// OVN_NB_DB, OVN_SB_DB, SYNCORD_VTN_ADDRESS). When the rig is not running, the first test that needs it starts it.
import { createServer } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { loadConfig } from '../../rig/config.js';
import { isUp, readEnv, up } from '../../rig/control.js';

export interface RigEnv {
  SYNCORD_RIG_DIR: string;
  KUBECONFIG: string;
  DATABASE_URL: string;
  OVN_NB_DB: string;
  OVN_SB_DB: string;
  /** The reference VTN server, host:port. */
  SYNCORD_VTN_ADDRESS: string;
  /** The grpcurl binary the rig built. */
  SYNCORD_GRPCURL: string;
  /** The ghz binary (gRPC load generator) the rig built. */
  SYNCORD_GHZ: string;
  /** The helm binary the rig built (the Helm chart's tests). */
  SYNCORD_HELM: string;
  /** The promtool binary the rig built (Prometheus rule checks). */
  SYNCORD_PROMTOOL: string;
  /**
   * Syncord's own kubeconfig: the ServiceAccount of deploy/rbac/syncord.yaml. Copied into the
   * environment like the rest, so every Syncord a test runs (in the test's process or spawned)
   * has exactly those rights; KUBECONFIG (the tests' own clients, kubectl) stays the admin's.
   */
  SYNCORD_KUBECONFIG: string;
  /** The kubectl binary the rig built. */
  SYNCORD_KUBECTL: string;
  /** Debian's Chromium, for the GUI's browser tests. */
  SYNCORD_CHROMIUM: string;
}

const keys: (keyof RigEnv)[] = [
  'SYNCORD_RIG_DIR',
  'KUBECONFIG',
  'DATABASE_URL',
  'OVN_NB_DB',
  'OVN_SB_DB',
  'SYNCORD_VTN_ADDRESS',
  'SYNCORD_GRPCURL',
  'SYNCORD_GHZ',
  'SYNCORD_HELM',
  'SYNCORD_PROMTOOL',
  'SYNCORD_KUBECONFIG',
  'SYNCORD_KUBECTL',
  'SYNCORD_CHROMIUM',
];

let pending: Promise<RigEnv> | undefined;

async function find(): Promise<RigEnv> {
  const config = loadConfig();
  let env = readEnv(config);
  if (!env || !(await isUp(config))) {
    process.stderr.write('[test] the rig is not running: starting it (rig/rig up)\n');
    env = await up(config);
  }
  const result = {} as RigEnv;
  for (const key of keys) {
    const value = env[key];
    if (!value) throw new Error(`the rig's environment lacks ${key}`);
    result[key] = value;
    process.env[key] = value;
  }
  return result;
}

/** The running rig's environment, starting the rig if needed (once per test process). */
export function rig(): Promise<RigEnv> {
  pending ??= find();
  return pending;
}

export function kubeConfig(env: RigEnv): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.KUBECONFIG);
  return kc;
}

/** A name no other test run uses: tests make their own namespaces, switches and databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => {
        resolve(port);
      });
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until check() returns a value other than undefined, or fails with what it waited for. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: last error ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${why}`);
    }
    await sleep(200);
  }
}
