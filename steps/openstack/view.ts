// The OpenStack steps' view of each Cluster: what the observer's last poll listed (this
// deployment's servers, Neutron ports, networks and subnets, by the instance tag; Nova's flavors;
// the Glance images the VMs name), patched by the steps with what they saw and did since. Nova has
// no watch: this view stands for the replica the OVN, VTN and Kubernetes steps read from their
// watches, so that a periodic resync of an unchanged VM or network sends OpenStack nothing.
//
// Trusted only while the observer keeps it fresh (its last complete poll began less than three
// poll periods ago; never with the observer off), and only when it says exactly what the model
// wants: anything missing or different sends the step the full way, with lookups. A stale view can
// make a step skip a repair until the observer's next poll, never longer: every poll compares what
// OpenStack holds with the model and queues what differs, and replaces the view with what it saw.
//
// Rows are stamped with the time from which they are known true: a poll's rows with the time its
// listing began; a step's with the time it began the lookup that found the object (so that a poll
// begun after that lookup wins), or the time its own create or delete returned. A later stamp
// wins, whoever wrote it.
import type {
  GlanceImage,
  NeutronNetwork,
  NeutronPort,
  NeutronSubnet,
  NovaFlavor,
  NovaServer,
} from '../../backends/openstack/resources.js';

interface Row<T> {
  at: number;
  /** Undefined: known gone (deleted by a step), until a poll begun later says otherwise. */
  value: T | undefined;
}

/** One kind of OpenStack object of the view, by key, with groups (an owner tag, a device). */
export class ViewTable<T> {
  private rows = new Map<string, Row<T>>();
  private index: Map<string, T[]> | undefined;

  constructor(private readonly groupsOf: (value: T) => (string | undefined)[] = () => []) {}

  get(key: string): T | undefined {
    return this.rows.get(key)?.value;
  }

  /** The objects of a group (e.g. every port whose owner tag is `syncord-owner=Port:7`). */
  group(name: string): T[] {
    if (!this.index) {
      this.index = new Map();
      for (const row of this.rows.values()) {
        if (row.value === undefined) continue;
        for (const g of this.groupsOf(row.value)) {
          if (g === undefined) continue;
          let list = this.index.get(g);
          if (!list) this.index.set(g, (list = []));
          list.push(row.value);
        }
      }
    }
    return this.index.get(name) ?? [];
  }

  /** What a step saw (or, with undefined, removed) at `at`; a row known from later stays. */
  put(key: string, value: T | undefined, at: number): void {
    const row = this.rows.get(key);
    if (row && row.at > at) return;
    this.rows.set(key, { at, value });
    this.index = undefined;
  }

  /** A poll's listing, begun at `begin`: it replaces every row but those the steps wrote since. */
  replace(listing: Iterable<readonly [string, T]>, begin: number): void {
    const next = new Map<string, Row<T>>();
    for (const [key, value] of listing) next.set(key, { at: begin, value });
    for (const [key, row] of this.rows) if (row.at > begin) next.set(key, row);
    this.rows = next;
    this.index = undefined;
  }
}

/** The owner tag among an object's tags (`syncord-owner=<Model>:<id>`). */
const ownerTagOf = (tags: readonly string[] | undefined): string | undefined =>
  tags?.find((t) => t.startsWith('syncord-owner='));

/** What one poll of a Cluster listed, from `begin`. */
export interface ClusterListing {
  begin: number;
  servers: NovaServer[];
  ports: NeutronPort[];
  networks: NeutronNetwork[];
  subnets: NeutronSubnet[];
  flavors: NovaFlavor[];
  /** Glance's image of each name the VMs ask for (absent: Glance has none). */
  images: Map<string, GlanceImage>;
}

export class ClusterView {
  /** When the last complete poll began (undefined: none yet). */
  polledAt: number | undefined;
  /** Servers by id; grouped by owner tag. */
  readonly servers = new ViewTable<NovaServer>((s) => [ownerTagOf(s.tags)]);
  /** Neutron ports by id; grouped by owner tag and by `device:<server id>`. */
  readonly ports = new ViewTable<NeutronPort>((p) => [
    ownerTagOf(p.tags),
    p.device_id ? `device:${p.device_id}` : undefined,
  ]);
  /** Neutron networks by id; grouped by owner tag. */
  readonly networks = new ViewTable<NeutronNetwork>((n) => [ownerTagOf(n.tags)]);
  /** Subnets by id; grouped by `network:<network id>`. */
  readonly subnets = new ViewTable<NeutronSubnet>((s) => [`network:${s.network_id}`]);
  /** Glance images by the name a VM asks for. */
  readonly images = new ViewTable<GlanceImage>();
  private flavorList: Row<NovaFlavor[]> | undefined;

  /** Nova's flavors, as last listed. */
  get flavors(): readonly NovaFlavor[] | undefined {
    return this.flavorList?.value;
  }

  putFlavors(flavors: NovaFlavor[], at: number): void {
    if (this.flavorList && this.flavorList.at > at) return;
    this.flavorList = { at, value: flavors };
  }

  /** Whether its last complete poll began less than `maxAgeMs` ago. */
  fresh(maxAgeMs: number, now = Date.now()): boolean {
    return this.polledAt !== undefined && maxAgeMs > 0 && now - this.polledAt < maxAgeMs;
  }

  /** A complete poll's listing becomes the view (what the steps wrote since it began stays). */
  apply(l: ClusterListing): void {
    this.servers.replace(
      l.servers.map((s) => [s.id, s] as const),
      l.begin,
    );
    this.ports.replace(
      l.ports.map((p) => [p.id, p] as const),
      l.begin,
    );
    this.networks.replace(
      l.networks.map((n) => [n.id, n] as const),
      l.begin,
    );
    this.subnets.replace(
      l.subnets.map((s) => [s.id, s] as const),
      l.begin,
    );
    this.images.replace(l.images, l.begin);
    this.putFlavors(l.flavors, l.begin);
    if (this.polledAt === undefined || l.begin > this.polledAt) this.polledAt = l.begin;
  }
}
