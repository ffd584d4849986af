// OpenStack on the rig (`rig/rig up --with openstack`) through Syncord's own client
// (backends/openstack): a Keystone v3 session for the exported admin with a catalog on 127.0.0.1,
// Nova's flavors and Glance's image, a Neutron network, subnet and port with a fixed IP, MAC and
// owner tags, a server booted on that port by Nova's fake driver that goes ACTIVE, the port as a
// logical switch port in the rig's OVN, Nova's refusal of a bad flavor as one sentence, and nothing
// left once all of it is deleted. Skipped, saying why, when the rig runs without OpenStack.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { OpenStackError, Session } from '../../backends/openstack/client.js';
import { Glance, Neutron, Nova } from '../../backends/openstack/resources.js';
import { openstackEnv } from '../support/openstack.js';
import { eventually, rig, uniqueName, type RigEnv } from '../support/rig.js';

const exec = promisify(execFile);

async function nbctl(env: RigEnv, args: string[]): Promise<string> {
  const { stdout } = await exec('ovn-nbctl', [`--db=${env.OVN_NB_DB}`, ...args]);
  return stdout.trim();
}

describe('rig: OpenStack', function () {
  this.timeout(300_000);
  let env: RigEnv;
  let os: Session;
  let neutron: Neutron;
  let nova: Nova;
  let glance: Glance;
  /** What a test made, deleted in reverse order afterwards even when the test failed. */
  const made: (() => Promise<void>)[] = [];

  before(async function () {
    const osEnv = openstackEnv();
    if (!osEnv) {
      process.stderr.write(
        '[test] rig: OpenStack skipped: the rig runs without OpenStack (start it with rig/rig up --with openstack)\n',
      );
      this.skip();
    }
    this.timeout(45 * 60_000);
    env = await rig();
    os = new Session({
      authUrl: osEnv.OS_AUTH_URL,
      regionName: osEnv.OS_REGION_NAME,
      username: osEnv.OS_USERNAME,
      password: osEnv.OS_PASSWORD,
      userDomainName: osEnv.OS_USER_DOMAIN_NAME,
      projectName: osEnv.OS_PROJECT_NAME,
      projectDomainName: osEnv.OS_PROJECT_DOMAIN_NAME,
    });
    neutron = new Neutron(os);
    nova = new Nova(os);
    glance = new Glance(os);
  });

  afterEach(async () => {
    for (const undo of made.splice(0).reverse()) await undo().catch(() => undefined);
  });

  it('gives a Keystone v3 session to the exported admin, with a catalog on 127.0.0.1', async () => {
    expect(await os.projectId()).to.match(/^[0-9a-f]{32}$/);
    for (const type of ['identity', 'compute', 'image', 'network', 'placement'] as const) {
      expect(await os.endpoint(type), type).to.match(/^http:\/\/127\.0\.0\.1:\d+/);
    }
  });

  it('lists the flavors m1.tiny and m1.small and the image cirros', async () => {
    expect((await nova.flavors()).map((f) => f.name)).to.include.members(['m1.tiny', 'm1.small']);
    const images = await glance.images({ name: 'cirros' });
    expect(images.map((i) => [i.name, i.status])).to.deep.include(['cirros', 'active']);
  });

  it('boots a server on a port made with a fixed IP, MAC and owner tags; OVN has the port; deleting leaves nothing', async () => {
    const name = uniqueName('os-smoke');
    const third = 1 + (randomBytes(1).readUInt8(0) % 250);
    const cidr = `10.123.${String(third)}.0/24`;
    const ip = `10.123.${String(third)}.50`;
    const mac = `fa:16:3e:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    const tags = ['syncord-instance=rig-test', `syncord-owner=Port:${name}`];

    const network = await neutron.createNetwork({ name, tags: ['syncord-instance=rig-test'] });
    made.push(() => neutron.deleteNetwork(network.id));
    const subnet = await neutron.createSubnet({
      network_id: network.id,
      name,
      cidr,
      gateway_ip: `10.123.${String(third)}.1`,
      enable_dhcp: false,
      tags: [],
    });
    const port = await neutron.createPort({
      network_id: network.id,
      name,
      mac_address: mac,
      fixed_ips: [{ subnet_id: subnet.id, ip_address: ip }],
      tags,
    });
    made.push(() => neutron.deletePort(port.id));
    expect(port.mac_address).to.equal(mac);
    expect(port.fixed_ips).to.deep.equal([{ subnet_id: subnet.id, ip_address: ip }]);
    // Found again by name and by tag, as the steps look before they create.
    expect((await neutron.ports({ name })).map((p) => p.id)).to.deep.equal([port.id]);
    const tagged = await neutron.ports({ tags: tags.join(',') });
    expect(tagged.map((p) => [p.id, [...p.tags].sort()])).to.deep.equal([
      [port.id, [...tags].sort()],
    ]);

    const flavor = (await nova.flavors()).find((f) => f.name === 'm1.tiny');
    const image = (await glance.images({ name: 'cirros' }))[0];
    expect(flavor && image, 'm1.tiny and cirros').to.not.equal(undefined);
    // A flavor Nova does not have: its refusal, as one sentence.
    const refused = await nova
      .createServer({
        name: `${name}-bad`,
        flavorRef: 'no-such-flavor',
        imageRef: image!.id,
        ports: [port.id],
        metadata: {},
        tags: [],
      })
      .catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(OpenStackError);
    expect((refused as OpenStackError).message).to.match(
      /^compute: POST \/servers: 400 .*[Ff]lavor/,
    );

    const server = await nova.createServer({
      name,
      flavorRef: flavor!.id,
      imageRef: image!.id,
      ports: [port.id],
      userData: '#cloud-config\n{}\n',
      metadata: { 'syncord-owner': `Port:${name}` },
      tags: ['syncord-instance=rig-test'],
    });
    made.push(() => nova.deleteServer(server.id));

    const active = await eventually(
      'the server to go ACTIVE',
      async () => {
        const s = await nova.server(server.id);
        if (s?.status === 'ERROR') throw new Error(`server went ERROR: ${s.fault?.message ?? ''}`);
        return s?.status === 'ACTIVE' ? s : undefined;
      },
      120_000,
    );
    expect(active.addresses?.[name]).to.deep.equal([
      { version: 4, addr: ip, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': mac },
    ]);
    expect(active.tags).to.deep.equal(['syncord-instance=rig-test']);
    expect(active.metadata).to.deep.equal({ 'syncord-owner': `Port:${name}` });
    expect((await nova.servers({ name: `^${name}$` })).map((s) => s.id)).to.deep.equal([server.id]);

    const bound = await neutron.port(port.id);
    expect(bound?.device_id).to.equal(server.id);
    expect(bound?.device_owner).to.match(/^compute:/);
    expect(bound?.['binding:host_id']).to.equal(active['OS-EXT-SRV-ATTR:host']);

    // ML2/OVN: the network is a logical switch, the port a logical switch port named by its id.
    const lsp = await nbctl(env, [
      '--bare',
      '--columns=addresses',
      'find',
      'Logical_Switch_Port',
      `name=${port.id}`,
    ]);
    expect(lsp).to.equal(`${mac} ${ip}`);
    expect(await nbctl(env, ['lsp-list', `neutron-${network.id}`])).to.include(port.id);

    // Delete the server, then the port and network; nothing of them may remain.
    await nova.deleteServer(server.id);
    await eventually(
      'Nova to delete the server',
      async () => ((await nova.server(server.id)) === undefined ? true : undefined),
      120_000,
    );
    await neutron.deletePort(port.id);
    await neutron.deleteNetwork(network.id);
    await neutron.deleteNetwork(network.id); // again: gone is gone, not an error
    made.splice(0);
    expect(await neutron.port(port.id)).to.equal(undefined);
    expect(await neutron.networks({ name })).to.deep.equal([]);
    await eventually('OVN to drop the logical switch port', async () =>
      (await nbctl(env, [
        '--bare',
        '--columns=_uuid',
        'find',
        'Logical_Switch_Port',
        `name=${port.id}`,
      ])) === ''
        ? true
        : undefined,
    );
    expect(
      await nbctl(env, [
        '--bare',
        '--columns=_uuid',
        'find',
        'Logical_Switch',
        `name=neutron-${network.id}`,
      ]),
    ).to.equal('');
  });
});
