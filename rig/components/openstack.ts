// OpenStack for the rig, only with `rig up --with openstack`: Debian bookworm's packages (Zed),
// installed when missing, each service run by the rig on 127.0.0.1 (Debian's packages start
// nothing themselves here): MariaDB, RabbitMQ, Keystone, Glance, Placement, Neutron with ML2/OVN
// on the rig's OVN, and Nova with its fake virt driver.
import type { Component, RigContext } from '../component.js';
import { ensurePackages } from '../host.js';
import { glance } from './glance.js';
import { keystone } from './keystone.js';
import { mariadb } from './mariadb.js';
import { neutronServer } from './neutron.js';
import { novaApi, novaCompute, novaConductor, novaScheduler } from './nova.js';
import { adminPassword, authUrl, REGION } from './openstack-base.js';
import { placement } from './placement.js';
import { rabbitmq } from './rabbitmq.js';

/** In start order, after the rig's own components (Neutron needs OVN). */
export const openstackComponents: Component[] = [
  mariadb,
  rabbitmq,
  keystone,
  glance,
  placement,
  neutronServer,
  novaApi,
  novaConductor,
  novaScheduler,
  novaCompute,
];

/**
 * What apt-get installs. nova-compute wants a hypervisor package: nova-compute-ironic is the one
 * that brings neither libvirt's daemon nor QEMU (the fake driver needs no hypervisor at all).
 */
const PACKAGES = [
  'mariadb-server',
  'rabbitmq-server',
  'keystone',
  'glance-api',
  'placement-api',
  'nova-api',
  'nova-conductor',
  'nova-scheduler',
  'nova-compute',
  'nova-compute-ironic',
  'neutron-server',
  'python3-pymysql',
  'python3-openstackclient',
];

/**
 * Debian's OpenStack packages ask (through debconf and dbconfig-common) whether to set up a
 * database, RabbitMQ, Keystone users and endpoints. The answers default to no; they are given
 * anyway, so that a machine whose debconf says otherwise does not get half a system OpenStack.
 */
const PRESEED = [
  'keystone keystone/configure_db boolean false',
  'keystone keystone/create-admin-tenant boolean false',
  'keystone keystone/register-endpoint boolean false',
  ...['glance-common glance', 'placement-common placement', 'nova-common nova'].flatMap((pq) => [
    `${pq}/configure_db boolean false`,
    `${pq}/configure_ksat boolean false`,
  ]),
  'glance-common glance/configure_rabbit boolean false',
  'glance-api glance/configure_api-endpoint boolean false',
  'placement-api placement/configure_api-endpoint boolean false',
  'nova-common nova/configure_rabbit boolean false',
  'nova-common nova/configure_neutron boolean false',
  'nova-common nova/configure_placement boolean false',
  'nova-api novaapi/configure_db boolean false',
  'nova-api nova/configure_api-endpoint boolean false',
  'neutron-common neutron/configure_db boolean false',
  'neutron-common neutron/configure_rabbit boolean false',
  'neutron-common neutron/configure_ksat boolean false',
  'neutron-common neutron/configure_nova boolean false',
  'neutron-api neutron/configure_api-endpoint boolean false',
];

export async function ensureOpenstackPackages(): Promise<void> {
  await ensurePackages('OpenStack', PACKAGES, PRESEED);
}

/** The exports `rig env` adds when OpenStack runs: the admin's credentials, for Keystone v3. */
export function openstackEnv(ctx: RigContext): Record<string, string> {
  const password = adminPassword(ctx);
  if (!password) return {};
  return {
    OS_AUTH_URL: authUrl(ctx),
    OS_USERNAME: 'admin',
    OS_PASSWORD: password,
    OS_PROJECT_NAME: 'admin',
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_REGION_NAME: REGION,
    OS_IDENTITY_API_VERSION: '3',
  };
}
