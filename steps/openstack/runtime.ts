// What the OpenStack steps share: a Keystone session per Cluster (scoped to the Cluster's own
// project, default admin: Neutron networks live there, shared) and one per trust domain (its own
// project, named after the TrustDomain, made when missing, where its servers run), the owner
// marks, and a lock per backend object so that two workers never create the same one.
//
// With an application credential there is no choosing of projects: everything is made in the
// credential's own project.
import { createHash } from 'node:crypto';
import { OpenStackError, Session, type Credentials } from '../../backends/openstack/client.js';
import { Keystone } from '../../backends/openstack/resources.js';
import type { ModelObject } from '../../models/service.js';
import { KeyedRwLock, nameOf } from '../kubernetes/runtime.js';
import { resolveInstance } from '../ovn/names.js';
import { ClusterView } from './view.js';

export interface OpenStackStepOptions {
  /** The deployment's name in every owner mark (default $SYNCORD_INSTANCE, else syncord). */
  instance?: string;
  /** How often the observer lists the servers of each OpenStack Cluster (default 10 s; 0: never). */
  pollMs?: number;
  /** The Keystone role given to Syncord's user on a trust domain's project (default member). */
  projectRole?: string;
  log?: (line: string) => void;
}

export interface Owner {
  model: string;
  id: number;
}

// The same naming and error text as the Kubernetes steps'.
export { errorText, nameOf } from '../kubernetes/runtime.js';

/** `syncord-<instance>-<Model>-<id>`: the name of every OpenStack object made for the owner. */
export const openstackName = (instance: string, owner: Owner): string =>
  `syncord-${instance}-${owner.model}-${String(owner.id)}`;

/**
 * The name an object takes when Syncord lets go of it (deletion_policy orphan): no longer the
 * owner's name, which the steps look objects up by (Neutron's untagged ones included) and OVN's
 * observer knows a Neutron port's switch port by, but still telling where it came from.
 */
export const releasedName = (name: string): string => `released-${name}`;

/**
 * An adopted object's OpenStack id for a kind (`{"openstack/<Kind>": id}` in its backend_handle,
 * written by `syncord adopt`): the object it was made from keeps its name, and the steps find it
 * by this id instead of by Syncord's name.
 */
export function handleOf(obj: ModelObject, kind: string): string | undefined {
  const handle = obj.backend_handle;
  if (!handle || typeof handle !== 'object' || Array.isArray(handle)) return undefined;
  const id = (handle as Record<string, unknown>)[`openstack/${kind}`];
  return typeof id === 'string' && id ? id : undefined;
}

/** A trust domain's place on a Cluster: the session to act in it and its project. */
export interface ProjectScope {
  session: Session;
  projectId: string;
  projectName: string;
}

export class OpenStackRuntime {
  readonly instance: string;
  readonly pollMs: number;
  readonly projectRole: string;
  readonly log: (line: string) => void;
  /** One create at a time per backend object (`exclusive`), so that two workers never make two. */
  readonly locks = new KeyedRwLock();
  private readonly sessions = new Map<string, Session>();
  private readonly projects = new Map<string, Promise<ProjectScope>>();
  /** Each Cluster's view (view.ts), by what its admin session is made of. */
  private readonly views = new Map<string, ClusterView>();

  constructor(options: OpenStackStepOptions = {}) {
    this.instance = resolveInstance(options.instance);
    this.pollMs = options.pollMs ?? Number(process.env.SYNCORD_OPENSTACK_POLL_MS ?? 10_000);
    this.projectRole = options.projectRole ?? 'member';
    this.log = options.log ?? (() => undefined);
  }

  /** `syncord-<instance>-<Model>-<id>`: the name of everything made for the owner. */
  nameFor(owner: Owner): string {
    return openstackName(this.instance, owner);
  }

  /**
   * How to list the owner's Neutron object of a kind: by the adopted object's id (its handle), else
   * by Syncord's name.
   */
  lookup(obj: ModelObject, kind: string): { id: string } | { name: string } {
    const id = handleOf(obj, kind);
    return id ? { id } : { name: this.nameFor({ model: kind, id: obj.id }) };
  }

  /** Whether a backend object found is the one the model names (its handle's id, or its name). */
  isNamed(obj: ModelObject, kind: string, found: { id: string; name: string }): boolean {
    const id = handleOf(obj, kind);
    return id ? found.id === id : found.name === this.nameFor({ model: kind, id: obj.id });
  }

  /**
   * The name a released object takes: `released-<Syncord's name>`, or, for an adopted one, the
   * name it had (it was never renamed).
   */
  releasedNameOf(obj: ModelObject, kind: string, current: string): string {
    return handleOf(obj, kind) ? current : releasedName(this.nameFor({ model: kind, id: obj.id }));
  }

  get instanceTag(): string {
    return `syncord-instance=${this.instance}`;
  }

  ownerTag(owner: Owner): string {
    return `syncord-owner=${owner.model}:${String(owner.id)}`;
  }

  tagsFor(owner: Owner): string[] {
    return [this.instanceTag, this.ownerTag(owner)];
  }

  /**
   * Whether an object found by the owner's name is the owner's to let go of: it carries the
   * owner's tag, or no owner tag at all (made by a create whose tag call never ran, or left by a
   * release cut short after the owner tag went).
   */
  releasable(tags: readonly string[] | undefined, owner: Owner): boolean {
    if (tags?.includes(this.ownerTag(owner))) return true;
    return !tags?.some((t) => t.startsWith('syncord-owner='));
  }

  /** The owner marks among the tags, the owner's first (a release cut short leaves none of it). */
  marksIn(tags: readonly string[] | undefined, owner: Owner): string[] {
    return [this.ownerTag(owner), this.instanceTag].filter((t) => tags?.includes(t));
  }

  /** The owner a tagged object names, if it is this deployment's. */
  ownerOf(tags: readonly string[] | undefined): Owner | undefined {
    if (!tags?.includes(this.instanceTag)) return undefined;
    const tag = tags.find((t) => t.startsWith('syncord-owner='));
    const m = /^syncord-owner=([A-Za-z]+):(\d+)$/.exec(tag ?? '');
    return m ? { model: m[1]!, id: Number(m[2]) } : undefined;
  }

  /** The Cluster's credentials, or an error naming what is missing. */
  credentials(cluster: ModelObject, projectName?: string): Credentials {
    const str = (v: unknown): string | undefined =>
      typeof v === 'string' && v.trim() ? v.trim() : undefined;
    const c: Credentials = {
      authUrl: str(cluster.auth_url) ?? '',
      regionName: str(cluster.region_name),
      username: str(cluster.username),
      password: str(cluster.password),
      userDomainName: str(cluster.user_domain_name) ?? 'Default',
      projectName: projectName ?? str(cluster.project_name) ?? 'admin',
      projectDomainName: str(cluster.project_domain_name) ?? 'Default',
      applicationCredentialId: str(cluster.application_credential_id),
      applicationCredentialSecret: str(cluster.application_credential_secret),
    };
    const problems = Session.problems(c);
    if (problems.length) {
      throw new Error(`Cluster ${nameOf(cluster)} cannot reach OpenStack: ${problems.join('; ')}`);
    }
    return c;
  }

  private sessionKey(cluster: ModelObject, projectName?: string): string {
    const creds = this.credentials(cluster, projectName);
    return createHash('sha256').update(JSON.stringify(creds)).digest('hex');
  }

  private session(cluster: ModelObject, projectName?: string): Session {
    // Keyed by what the session is made of: an edited Cluster gets a new one.
    const key = this.sessionKey(cluster, projectName);
    let s = this.sessions.get(key);
    if (!s) this.sessions.set(key, (s = new Session(this.credentials(cluster, projectName))));
    return s;
  }

  /** The Cluster's view (view.ts): the observer fills it, the steps patch it. */
  view(cluster: ModelObject): ClusterView {
    // Keyed like its admin session: a Cluster edited to another cloud starts with an empty one.
    const key = this.sessionKey(cluster);
    let v = this.views.get(key);
    if (!v) this.views.set(key, (v = new ClusterView()));
    return v;
  }

  /**
   * The Cluster's view if the observer keeps it fresh (its last complete poll began within three
   * poll periods), else undefined: the steps then look everything up.
   */
  trustedView(cluster: ModelObject): ClusterView | undefined {
    const v = this.view(cluster);
    return v.fresh(3 * this.pollMs) ? v : undefined;
  }

  /** The Cluster's own session (its project, default admin). */
  admin(cluster: ModelObject): Session {
    return this.session(cluster);
  }

  usesApplicationCredential(cluster: ModelObject): boolean {
    return Boolean(this.credentials(cluster).applicationCredentialId);
  }

  /**
   * The trust domain's project on the Cluster, made (tagged with its owner) and given Syncord's
   * user a role when missing. Remembered; forgotten when a call in it fails, so that a project
   * deleted out of band is made again.
   */
  project(cluster: ModelObject, td: ModelObject): Promise<ProjectScope> {
    if (this.usesApplicationCredential(cluster)) {
      const session = this.admin(cluster);
      return session.projectId().then((projectId) => ({
        session,
        projectId,
        projectName: '(the application credential project)',
      }));
    }
    const projectName = nameOf(td);
    const key = `${JSON.stringify(this.credentials(cluster))}/${projectName}`;
    let p = this.projects.get(key);
    if (!p) {
      p = this.ensureProject(cluster, td, projectName);
      this.projects.set(key, p);
      p.catch(() => this.projects.delete(key));
    }
    return p;
  }

  forgetProject(cluster: ModelObject, td: ModelObject): void {
    if (this.usesApplicationCredential(cluster)) return;
    this.projects.delete(`${JSON.stringify(this.credentials(cluster))}/${nameOf(td)}`);
  }

  private async ensureProject(
    cluster: ModelObject,
    td: ModelObject,
    projectName: string,
  ): Promise<ProjectScope> {
    const admin = this.admin(cluster);
    const keystone = new Keystone(admin);
    const domainName = this.credentials(cluster).projectDomainName ?? 'Default';
    const domainId = await keystone.domainId(domainName);
    let project = (await keystone.projects({ name: projectName, domain_id: domainId }))[0];
    if (!project) {
      try {
        project = await keystone.createProject({
          name: projectName,
          domain_id: domainId,
          description: `TrustDomain ${projectName}, made by Syncord`,
          tags: this.tagsFor({ model: 'TrustDomain', id: td.id }),
        });
      } catch (err) {
        // Made meanwhile by someone else (another replica, an operator): use it.
        if (!(err instanceof OpenStackError && err.conflict)) throw err;
        project = (await keystone.projects({ name: projectName, domain_id: domainId }))[0];
        if (!project) throw err;
      }
    }
    // Granted only when missing: a restart makes no write for a project that is in place.
    const userId = await admin.userId();
    const roleId = await keystone.roleId(this.projectRole);
    if (!(await keystone.rolesOn(project.id, userId)).includes(roleId)) {
      await keystone.grant(project.id, userId, roleId);
    }
    return {
      session: this.session(cluster, projectName),
      projectId: project.id,
      projectName,
    };
  }
}
