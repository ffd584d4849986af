// The vSG model policy (as R-CORD's vSG service had): a VSGServiceInstance gets one Port on every
// Network its slice attaches to (NetworkSlice), named net1, net2, ... in network order, with
// addresses and MACs from IPAM; ports on networks the slice no longer attaches to are removed.
// Its pod then comes from the Kubernetes steps like any container instance's.
import type { ModelObject, ModelTx } from '../../models/service.js';
import type { ModelPolicy } from '../../synchronizer/engine.js';

export const vsgPolicy: ModelPolicy = {
  name: 'vsg/ports',
  observes: 'VSGServiceInstance',
  async handle(obj: ModelObject, tx: ModelTx): Promise<string> {
    const sliceId = obj.slice_id;
    const networks: ModelObject[] = [];
    if (typeof sliceId === 'number') {
      const attached = await tx.list('NetworkSlice', {
        filter: [{ field: 'slice_id', value: sliceId }],
        pageSize: 5000,
      });
      const ids = attached.items.map((a) => a.network_id as number);
      if (ids.length) {
        const nets = await tx.list('Network', {
          filter: [{ field: 'id', op: 'in', value: ids }],
          pageSize: 5000,
        });
        networks.push(...nets.items);
      }
    }
    const ports = (
      await tx.list('Port', {
        filter: [{ field: 'service_instance_id', value: obj.id }],
        pageSize: 5000,
      })
    ).items;
    const byNetwork = new Map(ports.map((p) => [p.network_id as number, p]));
    const made: string[] = [];
    let removed = 0;
    for (const p of ports) {
      if (!networks.some((n) => n.id === p.network_id)) {
        await tx.delete('Port', p.id);
        removed++;
      }
    }
    const used = new Set(
      ports.filter((p) => networks.some((n) => n.id === p.network_id)).map((p) => p.interface_name),
    );
    let next = 1;
    for (const net of networks) {
      const have = byNetwork.get(net.id);
      if (have) {
        made.push(`${String(have.interface_name)} on ${String(net.name)}`);
        continue;
      }
      while (used.has(`net${String(next)}`)) next++;
      const name = `net${String(next)}`;
      used.add(name);
      const port = await tx.create('Port', {
        network_id: net.id,
        service_instance_id: obj.id,
        interface_name: name,
      });
      made.push(`${name} on ${String(net.name)} (${String(port.ip)})`);
    }
    if (networks.length === 0) {
      return `no ports: its slice attaches to no network${removed ? ` (removed ${String(removed)})` : ''}`;
    }
    return `ports ${made.join(', ')}${removed ? `; removed ${String(removed)}` : ''}`;
  },
};
