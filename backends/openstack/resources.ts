// The Neutron, Nova and Glance resources Syncord uses, typed as far as it reads them. Every
// object Syncord makes carries its owner twice: in its name (syncord-<instance>-<model>-<id>), which
// every list call can filter on, and in tags (`syncord-instance=<instance>`,
// `syncord-owner=<Model>:<id>`), which survive a rename and find every object of an instance for
// garbage collection.
import { OpenStackError, type Session } from './client.js';

export interface NeutronNetwork {
  id: string;
  name: string;
  status: string;
  tags: string[];
  subnets: string[];
  mtu?: number;
  shared?: boolean;
  'provider:network_type'?: string;
  'provider:segmentation_id'?: number;
}

export interface NeutronSubnet {
  id: string;
  name: string;
  network_id: string;
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  tags: string[];
}

export interface NeutronPort {
  id: string;
  name: string;
  network_id: string;
  mac_address: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  device_id: string;
  device_owner: string;
  status: string;
  tags: string[];
  'binding:host_id'?: string;
}

export interface NovaServer {
  id: string;
  name: string;
  status: string;
  tags?: string[];
  metadata: Record<string, string>;
  fault?: { message?: string; code?: number };
  'OS-EXT-SRV-ATTR:host'?: string | null;
  addresses?: Record<string, { addr: string; 'OS-EXT-IPS-MAC:mac_addr'?: string }[]>;
  flavor?: { id?: string; original_name?: string };
  image?: { id?: string } | string;
}

export interface NovaFlavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}

export interface GlanceImage {
  id: string;
  name: string;
  status: string;
}

/** Nova's microversion for tags at boot (2.52) and fault/host details in servers. */
const NOVA_VERSION = {
  'openstack-api-version': 'compute 2.52',
  'x-openstack-nova-api-version': '2.52',
};

export class Neutron {
  constructor(private readonly s: Session) {}

  async networks(
    query: { id?: string; name?: string; tags?: string } = {},
  ): Promise<NeutronNetwork[]> {
    const r = await this.s.request<{ networks: NeutronNetwork[] }>(
      'network',
      'GET',
      '/v2.0/networks',
      {
        query,
      },
    );
    return r.networks;
  }

  async createNetwork(body: {
    name: string;
    tags: string[];
    mtu?: number;
    /** Other projects may put ports on it (the trust domains' VMs). */
    shared?: boolean;
  }): Promise<NeutronNetwork> {
    const r = await this.s.request<{ network: NeutronNetwork }>(
      'network',
      'POST',
      '/v2.0/networks',
      {
        body: {
          network: {
            name: body.name,
            ...(body.mtu ? { mtu: body.mtu } : {}),
            ...(body.shared ? { shared: true } : {}),
          },
        },
      },
    );
    await this.tag('networks', r.network.id, body.tags);
    return { ...r.network, tags: body.tags };
  }

  async deleteNetwork(id: string): Promise<void> {
    await this.ignoreGone(() => this.s.request('network', 'DELETE', `/v2.0/networks/${id}`));
  }

  async subnets(query: {
    network_id?: string;
    name?: string;
    tags?: string;
  }): Promise<NeutronSubnet[]> {
    const r = await this.s.request<{ subnets: NeutronSubnet[] }>(
      'network',
      'GET',
      '/v2.0/subnets',
      {
        query,
      },
    );
    return r.subnets;
  }

  async createSubnet(body: {
    network_id: string;
    name: string;
    cidr: string;
    gateway_ip: string | null;
    enable_dhcp: boolean;
    tags: string[];
    ip_version?: 4 | 6;
    /** Where Neutron may allocate by itself: none when another allocator owns the addresses. */
    allocation_pools?: { start: string; end: string }[];
    dns_nameservers?: string[];
  }): Promise<NeutronSubnet> {
    const { tags, ...subnet } = body;
    const r = await this.s.request<{ subnet: NeutronSubnet }>('network', 'POST', '/v2.0/subnets', {
      body: { subnet: { ip_version: 4, ...subnet } },
    });
    await this.tag('subnets', r.subnet.id, tags);
    return { ...r.subnet, tags };
  }

  async ports(query: {
    id?: string;
    name?: string;
    tags?: string;
    network_id?: string;
    device_id?: string;
  }): Promise<NeutronPort[]> {
    const r = await this.s.request<{ ports: NeutronPort[] }>('network', 'GET', '/v2.0/ports', {
      query,
    });
    return r.ports;
  }

  async port(id: string): Promise<NeutronPort | undefined> {
    try {
      return (await this.s.request<{ port: NeutronPort }>('network', 'GET', `/v2.0/ports/${id}`))
        .port;
    } catch (err) {
      if (err instanceof OpenStackError && err.notFound) return undefined;
      throw err;
    }
  }

  async createPort(body: {
    network_id: string;
    name: string;
    mac_address: string;
    fixed_ips: { subnet_id: string; ip_address: string }[];
    tags: string[];
    /** The project that will own it (an admin making a port for a trust domain's server). */
    project_id?: string;
    /** false: no security groups and no anti-spoofing rules, as the pods' ports have none. */
    port_security_enabled?: boolean;
    description?: string;
  }): Promise<NeutronPort> {
    const { tags, ...port } = body;
    const r = await this.s.request<{ port: NeutronPort }>('network', 'POST', '/v2.0/ports', {
      body: { port: { ...port, admin_state_up: true } },
    });
    await this.tag('ports', r.port.id, tags);
    return { ...r.port, tags };
  }

  async updatePort(
    id: string,
    body: Partial<Pick<NeutronPort, 'mac_address' | 'fixed_ips' | 'name'>>,
  ): Promise<NeutronPort> {
    const r = await this.s.request<{ port: NeutronPort }>('network', 'PUT', `/v2.0/ports/${id}`, {
      body: { port: body },
    });
    return r.port;
  }

  async deletePort(id: string): Promise<void> {
    await this.ignoreGone(() => this.s.request('network', 'DELETE', `/v2.0/ports/${id}`));
  }

  /** Removes one tag of a resource (idempotent: a tag it does not have is success). */
  async untag(resource: 'networks' | 'subnets' | 'ports', id: string, tag: string): Promise<void> {
    await this.ignoreGone(() =>
      this.s.request(
        'network',
        'DELETE',
        `/v2.0/${resource}/${id}/tags/${encodeURIComponent(tag)}`,
      ),
    );
  }

  /** Gives a network, subnet or port another name, nothing else (gone already is success). */
  async rename(
    resource: 'networks' | 'subnets' | 'ports',
    id: string,
    name: string,
  ): Promise<void> {
    const singular = resource.slice(0, -1);
    await this.ignoreGone(() =>
      this.s.request('network', 'PUT', `/v2.0/${resource}/${id}`, {
        body: { [singular]: { name } },
      }),
    );
  }

  /** Replaces a resource's tags (one idempotent PUT). */
  async tag(resource: 'networks' | 'subnets' | 'ports', id: string, tags: string[]): Promise<void> {
    if (!tags.length) return;
    await this.s.request('network', 'PUT', `/v2.0/${resource}/${id}/tags`, { body: { tags } });
  }

  private async ignoreGone(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      if (!(err instanceof OpenStackError && err.notFound)) throw err;
    }
  }
}

export class Nova {
  constructor(private readonly s: Session) {}

  /** Servers with their details; `name` is a regular expression to Nova. */
  async servers(
    query: { name?: string; tags?: string; all_tenants?: boolean } = {},
  ): Promise<NovaServer[]> {
    const r = await this.s.request<{ servers: NovaServer[] }>('compute', 'GET', '/servers/detail', {
      query,
      headers: NOVA_VERSION,
    });
    return r.servers;
  }

  async server(id: string): Promise<NovaServer | undefined> {
    try {
      const r = await this.s.request<{ server: NovaServer }>('compute', 'GET', `/servers/${id}`, {
        headers: NOVA_VERSION,
      });
      return r.server;
    } catch (err) {
      if (err instanceof OpenStackError && err.notFound) return undefined;
      throw err;
    }
  }

  async createServer(body: {
    name: string;
    flavorRef: string;
    imageRef: string;
    ports: string[];
    userData?: string;
    metadata: Record<string, string>;
    tags: string[];
    availabilityZone?: string;
  }): Promise<{ id: string }> {
    const r = await this.s.request<{ server: { id: string } }>('compute', 'POST', '/servers', {
      headers: NOVA_VERSION,
      body: {
        server: {
          name: body.name,
          flavorRef: body.flavorRef,
          imageRef: body.imageRef,
          // No port: no network at all ('none'), never Nova's pick of one (an empty list is
          // taken as 'auto').
          networks: body.ports.length ? body.ports.map((port) => ({ port })) : 'none',
          metadata: body.metadata,
          tags: body.tags,
          ...(body.userData ? { user_data: Buffer.from(body.userData).toString('base64') } : {}),
          ...(body.availabilityZone ? { availability_zone: body.availabilityZone } : {}),
        },
      },
    });
    return r.server;
  }

  async deleteServer(id: string): Promise<void> {
    try {
      await this.s.request('compute', 'DELETE', `/servers/${id}`, { headers: NOVA_VERSION });
    } catch (err) {
      if (!(err instanceof OpenStackError && err.notFound)) throw err;
    }
  }

  /** Adds one tag to a server (idempotent: a tag it has already is success). */
  async addTag(id: string, tag: string): Promise<void> {
    await this.s.request('compute', 'PUT', `/servers/${id}/tags/${encodeURIComponent(tag)}`, {
      headers: NOVA_VERSION,
    });
  }

  /** Sets one metadata key of a server, leaving the others (idempotent). */
  async setMetadata(id: string, key: string, value: string): Promise<void> {
    await this.s.request('compute', 'PUT', `/servers/${id}/metadata/${encodeURIComponent(key)}`, {
      headers: NOVA_VERSION,
      body: { meta: { [key]: value } },
    });
  }

  /** Removes one tag of a server (idempotent: a tag it does not have is success). */
  async untag(id: string, tag: string): Promise<void> {
    await this.ignoreGone(() =>
      this.s.request('compute', 'DELETE', `/servers/${id}/tags/${encodeURIComponent(tag)}`, {
        headers: NOVA_VERSION,
      }),
    );
  }

  /** Removes one metadata key of a server (idempotent). */
  async deleteMetadata(id: string, key: string): Promise<void> {
    await this.ignoreGone(() =>
      this.s.request('compute', 'DELETE', `/servers/${id}/metadata/${encodeURIComponent(key)}`, {
        headers: NOVA_VERSION,
      }),
    );
  }

  /** Gives a server another name, nothing else (gone already is success). */
  async rename(id: string, name: string): Promise<void> {
    await this.ignoreGone(() =>
      this.s.request('compute', 'PUT', `/servers/${id}`, {
        headers: NOVA_VERSION,
        body: { server: { name } },
      }),
    );
  }

  private async ignoreGone(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      if (!(err instanceof OpenStackError && err.notFound)) throw err;
    }
  }

  /** The ports attached to a server. */
  async interfaces(serverId: string): Promise<{ port_id: string; mac_addr: string }[]> {
    const r = await this.s.request<{
      interfaceAttachments: { port_id: string; mac_addr: string }[];
    }>('compute', 'GET', `/servers/${serverId}/os-interface`, { headers: NOVA_VERSION });
    return r.interfaceAttachments;
  }

  /** Attaches an existing port to a running server. */
  async attachPort(serverId: string, portId: string): Promise<void> {
    await this.s.request('compute', 'POST', `/servers/${serverId}/os-interface`, {
      headers: NOVA_VERSION,
      body: { interfaceAttachment: { port_id: portId } },
    });
  }

  async flavors(): Promise<NovaFlavor[]> {
    const r = await this.s.request<{ flavors: NovaFlavor[] }>('compute', 'GET', '/flavors/detail', {
      headers: NOVA_VERSION,
    });
    return r.flavors;
  }
}

export class Glance {
  constructor(private readonly s: Session) {}

  async images(query: { name?: string } = {}): Promise<GlanceImage[]> {
    const r = await this.s.request<{ images: GlanceImage[] }>('image', 'GET', '/v2/images', {
      query,
    });
    return r.images;
  }
}

export interface KeystoneProject {
  id: string;
  name: string;
  domain_id: string;
  enabled?: boolean;
  description?: string;
  tags?: string[];
}

/** The few Keystone calls for the trust domains' projects: find, create, grant a role. */
export class Keystone {
  constructor(private readonly s: Session) {}

  async domainId(name: string): Promise<string> {
    const r = await this.s.request<{ domains: { id: string; name: string }[] }>(
      'identity',
      'GET',
      '/domains',
      { query: { name } },
    );
    const d = r.domains[0];
    if (!d) throw new OpenStackError(`Keystone has no domain ${name}`, 404, 'identity');
    return d.id;
  }

  async projects(query: {
    name?: string;
    domain_id?: string;
    tags?: string;
  }): Promise<KeystoneProject[]> {
    const r = await this.s.request<{ projects: KeystoneProject[] }>(
      'identity',
      'GET',
      '/projects',
      {
        query,
      },
    );
    return r.projects;
  }

  async createProject(body: {
    name: string;
    domain_id: string;
    description: string;
    tags: string[];
  }): Promise<KeystoneProject> {
    const r = await this.s.request<{ project: KeystoneProject }>('identity', 'POST', '/projects', {
      body: { project: body },
    });
    return r.project;
  }

  async deleteProject(id: string): Promise<void> {
    try {
      await this.s.request('identity', 'DELETE', `/projects/${id}`);
    } catch (err) {
      if (!(err instanceof OpenStackError && err.notFound)) throw err;
    }
  }

  /** Removes one tag of a project (idempotent: a tag it does not have is success). */
  async untagProject(id: string, tag: string): Promise<void> {
    try {
      await this.s.request('identity', 'DELETE', `/projects/${id}/tags/${encodeURIComponent(tag)}`);
    } catch (err) {
      if (!(err instanceof OpenStackError && err.notFound)) throw err;
    }
  }

  async roleId(name: string): Promise<string> {
    const r = await this.s.request<{ roles: { id: string; name: string }[] }>(
      'identity',
      'GET',
      '/roles',
      { query: { name } },
    );
    const role = r.roles[0];
    if (!role) throw new OpenStackError(`Keystone has no role ${name}`, 404, 'identity');
    return role.id;
  }

  /** The ids of the roles a user has on a project. */
  async rolesOn(projectId: string, userId: string): Promise<string[]> {
    const r = await this.s.request<{ roles: { id: string }[] }>(
      'identity',
      'GET',
      `/projects/${projectId}/users/${userId}/roles`,
    );
    return r.roles.map((role) => role.id);
  }

  /** Grants a user a role on a project (idempotent). */
  async grant(projectId: string, userId: string, roleId: string): Promise<void> {
    await this.s.request(
      'identity',
      'PUT',
      `/projects/${projectId}/users/${userId}/roles/${roleId}`,
    );
  }
}
