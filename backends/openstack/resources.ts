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

  async networks(query: { name?: string; tags?: string } = {}): Promise<NeutronNetwork[]> {
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
  }): Promise<NeutronNetwork> {
    const r = await this.s.request<{ network: NeutronNetwork }>(
      'network',
      'POST',
      '/v2.0/networks',
      {
        body: { network: { name: body.name, ...(body.mtu ? { mtu: body.mtu } : {}) } },
      },
    );
    await this.tag('networks', r.network.id, body.tags);
    return { ...r.network, tags: body.tags };
  }

  async deleteNetwork(id: string): Promise<void> {
    await this.ignoreGone(() => this.s.request('network', 'DELETE', `/v2.0/networks/${id}`));
  }

  async subnets(query: { network_id?: string; name?: string }): Promise<NeutronSubnet[]> {
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
  }): Promise<NeutronSubnet> {
    const { tags, ...subnet } = body;
    const r = await this.s.request<{ subnet: NeutronSubnet }>('network', 'POST', '/v2.0/subnets', {
      body: { subnet: { ...subnet, ip_version: 4 } },
    });
    await this.tag('subnets', r.subnet.id, tags);
    return { ...r.subnet, tags };
  }

  async ports(query: {
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
  async servers(query: { name?: string; tags?: string } = {}): Promise<NovaServer[]> {
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
          networks: body.ports.map((port) => ({ port })),
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
