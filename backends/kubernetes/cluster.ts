// A handle on one Kubernetes cluster: server-side apply with Syncord's field manager, idempotent
// removal, reads, label-selected lists and resuming watches, every failure turned into one
// sentence (errors.ts). Built from a kubeconfig text, or from $KUBECONFIG / ~/.kube/config /
// the in-cluster service account when none is given.
import * as tls from 'node:tls';
import * as k8s from '@kubernetes/client-node';
import { failpoint } from '../failpoint.js';
import { translateError, type Subject } from './errors.js';
import { ObjectWatch, type WatchOptions } from './watch.js';

export const FIELD_MANAGER = 'syncord';

/** KubernetesObjectApi with the collection path of a kind exposed (for watches). */
class ObjectApi extends k8s.KubernetesObjectApi {
  collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    return this.specUriPath({ apiVersion, kind, metadata: { namespace } }, 'list');
  }
}

export type KubeObject = k8s.KubernetesObject;

export interface RemoveOptions {
  /** Remove only this incarnation of the object (a precondition on its uid). */
  uid?: string;
  gracePeriodSeconds?: number;
}

export interface ClusterOptions {
  /** How long a request (not a watch) may take; default SYNCORD_KUBE_TIMEOUT_MS, else 30 s. */
  requestTimeoutMs?: number;
}

export class KubernetesCluster {
  /** The apiserver's URL, for messages. */
  readonly server: string;
  private readonly api: ObjectApi;

  constructor(
    readonly kubeConfig: k8s.KubeConfig,
    readonly fieldManager = FIELD_MANAGER,
    options: ClusterOptions = {},
  ) {
    this.server = kubeConfig.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)';
    tuneRequests(kubeConfig, options.requestTimeoutMs ?? KubernetesCluster.requestTimeoutMs);
    this.api = kubeConfig.makeApiClient(ObjectApi);
  }

  /**
   * From a kubeconfig's text; without one, from $SYNCORD_KUBECONFIG (Syncord's own identity, e.g.
   * its ServiceAccount's, while $KUBECONFIG stays the operator's for kubectl), else $KUBECONFIG,
   * else ~/.kube/config, else the in-cluster service account. A kubeconfig that does not parse throws a sentence saying so.
   */
  static fromKubeconfig(
    text?: string | null,
    fieldManager?: string,
    options: ClusterOptions = {},
  ): KubernetesCluster {
    const kc = new k8s.KubeConfig();
    const own = process.env.SYNCORD_KUBECONFIG?.trim();
    const which = text?.trim()
      ? 'given'
      : own
        ? `of $SYNCORD_KUBECONFIG (${own})`
        : 'of the environment';
    try {
      if (text?.trim()) kc.loadFromString(text);
      else if (own) kc.loadFromFile(own);
      else kc.loadFromDefault();
    } catch (err) {
      // The first line only: a YAML error goes on to quote the lines around the mistake, which
      // hold the kubeconfig's token or key, and this sentence ends up in status and logs.
      const why = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.trim();
      // No `cause` on purpose: the cause's message is the one quoting the secret.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(`the kubeconfig ${which} is not usable: ${why || 'it does not parse'}`);
    }
    if (!kc.getCurrentCluster()) throw new Error('the kubeconfig names no current cluster');
    return new KubernetesCluster(kc, fieldManager, options);
  }

  /** How long a request (not a watch) may take before it fails; SYNCORD_KUBE_TIMEOUT_MS. */
  static readonly requestTimeoutMs = timeoutFromEnv();

  /** Server-side apply (field manager `syncord`, forced): creates or brings the object in line. */
  async apply<T extends KubeObject>(obj: T): Promise<T> {
    let applied: T;
    try {
      applied = await this.api.patch(
        obj,
        undefined,
        undefined,
        this.fieldManager,
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
    } catch (err) {
      throw translateError(err, subjectOf(obj), this.server);
    }
    failpoint('kubernetes-write');
    return applied;
  }

  /**
   * A JSON merge patch (RFC 7386: a key set to null is removed), as an update by Syncord's field
   * manager, not an apply: it takes no field over. Returns the object as it now is, or undefined
   * when it does not exist.
   */
  async mergePatch<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    patch: { metadata?: Record<string, unknown> } & Record<string, unknown>,
  ): Promise<T | undefined> {
    let patched: T;
    try {
      patched = await this.api.patch<T>(
        { ...patch, apiVersion, kind, metadata: { ...patch.metadata, name, namespace } } as T,
        undefined,
        undefined,
        this.fieldManager,
        undefined,
        k8s.PatchStrategy.MergePatch,
      );
    } catch (err) {
      const e = translateError(err, { kind, name, namespace }, this.server);
      if (e.code === 404 && e.status) return undefined;
      throw e;
    }
    failpoint('kubernetes-write');
    return patched;
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return await this.api.read<T>({ apiVersion, kind, metadata: { name, namespace } });
    } catch (err) {
      const e = translateError(err, { kind, name, namespace }, this.server);
      // Not there (nor, perhaps, its namespace); a kind the cluster does not serve is an error.
      if (e.code === 404 && e.status) return undefined;
      throw e;
    }
  }

  /** Every object of a kind (in a namespace, or in all when none is given) matching a selector. */
  async list<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ): Promise<T[]> {
    return (await this.listWithVersion<T>(apiVersion, kind, namespace, labelSelector)).items;
  }

  /** A list and the resourceVersion it was read at (where a watch takes over). */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the kind's type
  async listWithVersion<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    try {
      do {
        const page = await this.api.list<T>(
          apiVersion,
          kind,
          namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          labelSelector,
          500,
          continueToken,
        );
        items.push(...page.items);
        continueToken = page.metadata?._continue || undefined;
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      } while (continueToken);
    } catch (err) {
      throw translateError(err, { kind, namespace }, this.server);
    }
    // Objects in a list carry no apiVersion/kind; give them theirs.
    for (const item of items) {
      item.apiVersion ??= apiVersion;
      item.kind ??= kind;
    }
    return { items, resourceVersion };
  }

  /**
   * Removes the object; idempotent: already gone (404) is success. Waits for nothing: a pod or a
   * namespace may still be terminating when this returns. Returns whether there was one to remove.
   */
  async remove(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    options: RemoveOptions = {},
  ): Promise<boolean> {
    try {
      await this.api.delete(
        { apiVersion, kind, metadata: { name, namespace } },
        undefined,
        undefined,
        options.gracePeriodSeconds,
        undefined,
        'Background',
        options.uid ? { preconditions: { uid: options.uid } } : undefined,
      );
      failpoint('kubernetes-write');
      return true;
    } catch (err) {
      const e = translateError(err, { kind, name, namespace }, this.server);
      if (e.code === 404) return false;
      // The uid precondition failed: that incarnation is gone already.
      if (e.code === 409 && options.uid) return false;
      throw e;
    }
  }

  /** The URL path of a kind's collection, e.g. /api/v1/pods or /apis/x/v1/namespaces/n/foos. */
  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    try {
      return await this.api.collectionPath(apiVersion, kind, namespace);
    } catch (err) {
      throw translateError(err, { kind, namespace }, this.server);
    }
  }

  /** A list-then-watch that resumes after errors and re-lists when its version expired. */
  watch<T extends KubeObject>(options: WatchOptions<T>): ObjectWatch<T> {
    return new ObjectWatch<T>(this, options);
  }
}

function subjectOf(obj: KubeObject): Subject {
  return {
    kind: obj.kind ?? 'object',
    name: obj.metadata?.name,
    namespace: obj.metadata?.namespace,
  };
}

function timeoutFromEnv(): number {
  const text = process.env.SYNCORD_KUBE_TIMEOUT_MS;
  if (text === undefined || text === '') return 30_000;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(`SYNCORD_KUBE_TIMEOUT_MS=${text}: a positive number of milliseconds`);
  }
  return n;
}

const tuned = new WeakSet<k8s.KubeConfig>();

/**
 * Two things @kubernetes/client-node 1.4 does not do, added around its per-request hooks:
 * - A deadline on every request (watches excepted): an apiserver that accepts the connection and
 *   never answers would otherwise hold a worker, and the locks it holds, for ever. The request
 *   fails with node-fetch's AbortError, which errors.ts turns into a sentence.
 * - One HTTPS agent per kubeconfig instead of one per request, with the TLS context built once:
 *   every request still opens its own connection (a keep-alive pool hung under load here), but
 *   without re-reading the certificates, and resuming the TLS session the agent cached, which
 *   spares both sides most of the handshake. The agent factory is not a public API: when the
 *   library changes, requests still work, without this.
 */
function tuneRequests(kc: k8s.KubeConfig, timeoutMs: number): void {
  if (tuned.has(kc)) return;
  tuned.add(kc);
  const authenticate = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context) => {
    await authenticate(context);
    if (!context.getSignal()) context.setSignal(AbortSignal.timeout(timeoutMs));
  };
  type Factory = (cluster: k8s.Cluster | null, options: Record<string, unknown>) => unknown;
  const target = kc as unknown as { createAgent?: Factory };
  const original = target.createAgent?.bind(kc);
  if (!original) return;
  let agent: unknown;
  target.createAgent = (cluster, options) => {
    if (cluster?.proxyUrl || options.keepAlive === true) return original(cluster, options);
    if (agent === undefined) {
      const { ca, cert, key, pfx, passphrase } = options as tls.SecureContextOptions;
      agent = original(cluster, {
        ...options,
        secureContext: tls.createSecureContext({ ca, cert, key, pfx, passphrase }),
      });
    }
    return agent;
  };
}
