// What every rig component provides, and the context they share while the rig comes up.
import type { RigConfig } from './config.js';
import type { Credentials } from './pki.js';
import type { DaemonSpec } from './process.js';

export interface Binaries {
  /** Folder with kube-apiserver, kube-controller-manager, kube-scheduler. */
  kubernetes: string;
  /** Folder with etcd. */
  etcd: string;
  /** Folder with kwok and the kwok stages it ships. */
  kwok: string;
  /** Folder with grpcurl, the gRPC command-line client (a tool for tests, not a daemon). */
  grpcurl: string;
  /** Folder with ghz, the gRPC load generator (a tool for the load tests, not a daemon). */
  ghz: string;
  /** Folder with helm, for the Helm chart's tests (a tool, not a daemon). */
  helm: string;
  /** Folder with promtool, Prometheus's rule checker (a tool, not a daemon). */
  promtool: string;
  /**
   * Folder whose crds/ holds the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs
   * (copied from its module; no operator runs).
   */
  prometheusOperatorCrds: string;
  /** Folder with kubevirt-crds, which prints KubeVirt's CRDs from KubeVirt's own generator. */
  kubevirtCrds: string;
  /** PostgreSQL's bin folder (Debian's /usr/lib/postgresql/N/bin). */
  postgres: string;
}

export interface RigContext {
  config: RigConfig;
  creds: Credentials;
  bins: Binaries;
  /** Kubeconfig files by client name. */
  kubeconfigs: {
    admin: string;
    controllerManager: string;
    scheduler: string;
    kwok: string;
    /** Syncord's own: the ServiceAccount of deploy/rbac/syncord.yaml (least privilege). */
    syncord: string;
  };
  /** The user PostgreSQL runs as, when the rig runs as root. */
  postgresUser?: { uid: number; gid: number };
  logFile(component: string): string;
}

export interface Component {
  name: string;
  /** The TCP port clients use. */
  port(ctx: RigContext): number;
  /** Writes data directories and configuration; returns how to start the daemon. */
  prepare(ctx: RigContext): Promise<DaemonSpec>;
  /** Resolves true once the component answers its clients; may throw with the reason. */
  ready(ctx: RigContext): Promise<boolean>;
  /** How long to wait for ready() after a start. */
  readyTimeoutMs: number;
  /** The version it reports itself. */
  version(ctx: RigContext): Promise<string>;
  /** Runs after the component is ready, on every `up` (must be idempotent). */
  afterReady?(ctx: RigContext): Promise<void>;
}
