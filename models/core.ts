// The core models, with XOS's names, fields and relations where XOS had the concept (see
// ../shared/research/xos.md), so that a CORD operator's recipes and scripts carry over.
import {
  AddressError,
  contains,
  defaultGateway,
  formatAddress,
  parseAddress,
  parseCidr,
  parseExcludeIps,
  usableRange,
} from './ipam/address.js';
import type { FieldDef, ModelDef, OnDelete } from './registry.js';

/** A Kubernetes object name (RFC 1123 label): namespaces are named after trust domains. */
export const DNS_LABEL = {
  regex: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
  reason:
    'must be a DNS label: lower-case letters, digits and "-", starting and ending alphanumeric',
};

/** A reference field to another model. */
export const ref = (
  model: string,
  onDelete: OnDelete,
  extra: Partial<FieldDef> = {},
): FieldDef => ({
  type: 'reference',
  reference: { model, onDelete },
  ...extra,
});

export const VTN_NETWORK_TYPES = [
  'PRIVATE',
  'PUBLIC',
  'FLAT',
  'MANAGEMENT_HOST',
  'MANAGEMENT_LOCAL',
  'VSG',
  'ACCESS_AGENT',
] as const;

/** A Network's address plan: the gateway and the excluded ranges lie inside its subnet. */
function checkNetwork(v: Readonly<Record<string, unknown>>): { field: string; reason: string }[] {
  if (typeof v.subnet !== 'string') return [];
  const subnet = parseCidr(v.subnet);
  const problems: { field: string; reason: string }[] = [];
  if (typeof v.gateway === 'string') {
    const gw = parseAddress(v.gateway);
    const usable = usableRange(subnet);
    if (gw.family !== subnet.family) {
      problems.push({
        field: 'gateway',
        reason: `an IPv${String(gw.family)} address in an IPv${String(subnet.family)} subnet`,
      });
    } else if (!contains(subnet, gw.value)) {
      problems.push({ field: 'gateway', reason: `${v.gateway} is not inside ${subnet.cidr}` });
    } else if (gw.value < usable.first || gw.value > usable.last) {
      problems.push({
        field: 'gateway',
        reason: `${v.gateway} is not a usable address of ${subnet.cidr}`,
      });
    }
  }
  if (typeof v.exclude_ips === 'string') {
    try {
      parseExcludeIps(subnet, v.exclude_ips);
    } catch (err) {
      if (!(err instanceof AddressError)) throw err;
      problems.push({ field: 'exclude_ips', reason: err.message });
    }
  }
  if (typeof v.dns_servers === 'string') {
    for (const item of v.dns_servers.split(/\s+/).filter(Boolean)) {
      try {
        parseAddress(item);
      } catch (err) {
        if (!(err instanceof AddressError)) throw err;
        problems.push({ field: 'dns_servers', reason: err.message });
      }
    }
  }
  return problems;
}

export const coreModels: Omit<ModelDef, 'package'>[] = [
  {
    name: 'Site',
    description: 'A place where nodes and users are: a central office, a data centre.',
    fields: {
      abbreviated_name: { type: 'string', maxLength: 80 },
      login_base: { type: 'string', maxLength: 50 },
      site_url: { type: 'string', maxLength: 512 },
      enabled: { type: 'boolean', default: true },
      is_public: { type: 'boolean', default: true },
      longitude: { type: 'float', min: -180, max: 180 },
      latitude: { type: 'float', min: -90, max: 90 },
    },
  },
  {
    name: 'Service',
    description: 'A service offered by the operator; service packages add their own kinds.',
    fields: {
      kind: { type: 'string', choices: ['generic', 'data', 'control', 'oss'], default: 'generic' },
      description: { type: 'text' },
      enabled: { type: 'boolean', default: true },
      view_url: { type: 'string', maxLength: 1024 },
      icon_url: { type: 'string', maxLength: 1024 },
      public_key: { type: 'text' },
      private_key_fn: { type: 'string', maxLength: 1024 },
      service_specific_attribute: { type: 'json' },
    },
  },
  {
    name: 'ServiceDependency',
    description: 'The subscriber service uses the provider service.',
    nameRequired: false,
    uniqueTogether: [['provider_service', 'subscriber_service']],
    fields: {
      provider_service: ref('Service', 'cascade', { required: true }),
      subscriber_service: ref('Service', 'cascade', { required: true }),
      connect_method: { type: 'string', choices: ['none', 'private', 'public'], default: 'none' },
    },
    check: (v) =>
      v.provider_service !== undefined && v.provider_service === v.subscriber_service
        ? [{ field: 'subscriber_service', reason: 'a service cannot depend on itself' }]
        : [],
  },
  {
    name: 'TrustDomain',
    description: 'A tenant: a Kubernetes namespace, an OpenStack project. Owned by a service.',
    fields: {
      owner: ref('Service', 'restrict', { required: true }),
    },
  },
  {
    name: 'Principal',
    description: 'An identity in a trust domain: a Kubernetes service account.',
    scope: 'trust_domain',
    fields: {
      trust_domain: ref('TrustDomain', 'cascade', { required: true }),
    },
  },
  {
    name: 'Image',
    description: 'A container image or a VM image.',
    nameUnique: false,
    uniqueTogether: [['name', 'tag']],
    fields: {
      tag: { type: 'string', maxLength: 256, default: 'latest' },
      kind: { type: 'string', choices: ['container', 'vm'], default: 'container' },
      disk_format: { type: 'string', maxLength: 64 },
      container_format: { type: 'string', maxLength: 64 },
      path: { type: 'string', maxLength: 1024 },
    },
  },
  {
    name: 'Flavor',
    description: 'The size of a compute instance.',
    fields: {
      description: { type: 'text' },
      flavor: { type: 'string', maxLength: 128, help: 'the OpenStack flavor name' },
      vcpus: { type: 'integer', min: 1 },
      memory_mb: { type: 'integer', min: 1 },
      disk_gb: { type: 'integer', min: 0 },
    },
  },
  {
    name: 'Cluster',
    description: 'Where compute instances run: a Kubernetes cluster or an OpenStack region.',
    fields: {
      kind: { type: 'string', choices: ['kubernetes', 'openstack'], required: true },
      site: ref('Site', 'set-null'),
      kubeconfig: {
        type: 'text',
        secret: true,
        help: 'a kubeconfig; empty means $SYNCORD_KUBECONFIG, $KUBECONFIG or in-cluster',
      },
      auth_url: { type: 'string', maxLength: 1024, help: 'Keystone v3 URL' },
      region_name: { type: 'string', maxLength: 128 },
      username: { type: 'string', maxLength: 256 },
      password: { type: 'text', secret: true, help: 'stored as given: the synchronizer needs it' },
      user_domain_name: {
        type: 'string',
        maxLength: 256,
        help: "the user's Keystone domain (default Default)",
      },
      project_name: {
        type: 'string',
        maxLength: 256,
        help: "the project the password is scoped to for Syncord's own work (default admin): Neutron networks, and the trust domains' projects",
      },
      project_domain_name: {
        type: 'string',
        maxLength: 256,
        help: "the projects' Keystone domain (default Default)",
      },
      application_credential_id: { type: 'string', maxLength: 256 },
      application_credential_secret: { type: 'text', secret: true },
      default_cluster: { type: 'boolean', default: false },
    },
  },
  {
    name: 'Node',
    description: 'A compute node and its data-plane attachment (for VTN).',
    fields: {
      site: ref('Site', 'cascade', { required: true }),
      cluster: ref('Cluster', 'set-null'),
      bridgeId: { type: 'string', maxLength: 64 },
      dataPlaneIntf: { type: 'string', maxLength: 64 },
      dataPlaneIp: { type: 'string', maxLength: 64 },
      hostManagementIface: { type: 'string', maxLength: 64 },
    },
  },
  {
    name: 'Slice',
    description: "A service's group of compute instances in a site and trust domain.",
    scope: 'trust_domain',
    fields: {
      site: ref('Site', 'restrict', { required: true }),
      trust_domain: ref('TrustDomain', 'cascade', { required: true }),
      service: ref('Service', 'set-null'),
      principal: ref('Principal', 'set-null'),
      cluster: ref('Cluster', 'set-null'),
      description: { type: 'text' },
      enabled: { type: 'boolean', default: true },
      max_instances: { type: 'integer', default: 10, min: 0 },
      default_image: ref('Image', 'set-null'),
      default_flavor: ref('Flavor', 'set-null'),
      default_node: ref('Node', 'set-null'),
      default_isolation: {
        type: 'string',
        choices: ['container', 'vm', 'container_vm'],
        default: 'container',
      },
      controller_kind: { type: 'string', maxLength: 64 },
    },
  },
  {
    name: 'Network',
    description: 'A virtual network (an OVN logical switch) with one address plan.',
    fields: {
      subnet: { type: 'cidr', required: true, help: 'IPv4 or IPv6 CIDR' },
      gateway: { type: 'ip', help: 'default: the first usable address of the subnet' },
      type: { type: 'string', choices: VTN_NETWORK_TYPES, default: 'PRIVATE' },
      provider: { type: 'string', choices: ['ovn', 'sriov', 'flannel'], default: 'ovn' },
      segment_id: { type: 'integer', min: 1, max: 16777215, help: 'VNI or VLAN id' },
      owner: ref('Slice', 'set-null'),
      exclude_ips: { type: 'string', maxLength: 4096, help: 'OVN syntax: "A B..C"' },
      dhcp: { type: 'boolean', default: true },
      dns_servers: { type: 'string', maxLength: 1024, help: 'space-separated addresses' },
      mtu: { type: 'integer', min: 576, max: 9216 },
      neutron_network_id: {
        type: 'string',
        maxLength: 64,
        feedback: true,
        help: 'the Neutron network that stands for it on OpenStack (its OVN switch is neutron-<id>)',
      },
    },
    derivedDefaults: (v) =>
      typeof v.subnet === 'string'
        ? {
            gateway: formatAddress(parseCidr(v.subnet).family, defaultGateway(parseCidr(v.subnet))),
          }
        : {},
    check: checkNetwork,
  },
  {
    name: 'NetworkSlice',
    description: "A slice's attachment to a network.",
    nameRequired: false,
    uniqueTogether: [['network', 'slice']],
    fields: {
      network: ref('Network', 'cascade', { required: true }),
      slice: ref('Slice', 'cascade', { required: true }),
    },
  },
  {
    name: 'ServiceInstance',
    description: 'An instance of a service; service packages add their own kinds.',
    fields: {
      owner: ref('Service', 'cascade', { required: true }),
      service_specific_attribute: { type: 'json' },
      master_serviceinstance: ref('ServiceInstance', 'set-null'),
    },
  },
  {
    name: 'Port',
    description: "An instance's interface on a network: its address and MAC from IPAM.",
    nameRequired: false,
    uniqueTogether: [['service_instance', 'interface_name']],
    fields: {
      network: ref('Network', 'restrict', { required: true, immutable: true }),
      service_instance: ref('ServiceInstance', 'cascade', { required: true, immutable: true }),
      interface_name: { type: 'string', maxLength: 15, help: 'in the pod or VM, e.g. net1' },
      ip: { type: 'ip', help: 'a static address; allocated from the network when empty' },
      mac: { type: 'mac', help: 'a static MAC; allocated when empty' },
      port_id: {
        type: 'string',
        maxLength: 256,
        feedback: true,
        help: "the backend's port: the Neutron port of a VM on OpenStack",
      },
      observed_ip: { type: 'ip', feedback: true, help: 'the address the backend reports' },
      observed_mac: { type: 'mac', feedback: true, help: 'the MAC the backend reports' },
      observed_interface: {
        type: 'string',
        maxLength: 64,
        feedback: true,
        help: 'the interface the backend reports, e.g. net1',
      },
      ovn_up: {
        type: 'boolean',
        feedback: true,
        help: "whether OVN reports the port up (its southbound Port_Binding's up)",
      },
      ovn_chassis: {
        type: 'string',
        maxLength: 256,
        feedback: true,
        help: 'the OVN chassis the port is bound on, if any',
      },
    },
  },
  {
    name: 'Role',
    description: 'What a user may do: admin, operator or viewer.',
    fields: {
      description: { type: 'text' },
    },
  },
  {
    name: 'User',
    description: 'A person or a program using the API.',
    fields: {
      email: { type: 'string', maxLength: 256 },
      firstname: { type: 'string', maxLength: 128 },
      lastname: { type: 'string', maxLength: 128 },
      password: { type: 'password' },
      is_active: { type: 'boolean', default: true },
      role: ref('Role', 'restrict'),
      site: ref('Site', 'set-null'),
      trust_domain: ref('TrustDomain', 'set-null', {
        help: "limits the user to this trust domain's objects (none: every trust domain)",
      }),
    },
  },
  {
    name: 'ApiToken',
    description: "A bearer token for a user's API calls; only its hash is kept.",
    fields: {
      user: ref('User', 'cascade', { required: true, immutable: true }),
      token_hash: { type: 'string', maxLength: 128, required: true, immutable: true },
      expires_at: { type: 'timestamp' },
      last_used_at: { type: 'timestamp', feedback: true },
    },
  },
];
