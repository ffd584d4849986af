// The model registry: one definition per model; bad packages are refused whole.
import { expect } from 'chai';
import { defaultRegistry } from '../../models/index.js';
import { Registry, snakeCase } from '../../models/registry.js';

describe('model registry', () => {
  it('holds the core models and the service packages, sharing tables by hierarchy', () => {
    const r = defaultRegistry();
    for (const m of ['Site', 'TrustDomain', 'Network', 'Port', 'ApiToken', 'VNFServiceInstance']) {
      expect(r.has(m), m).to.equal(true);
    }
    const vnf = r.get('VNFServiceInstance');
    expect(vnf.table).to.equal('service_instance');
    expect(vnf.allFields).to.include.keys('owner', 'slice', 'workload');
    expect(r.get('ServiceInstance').family).to.include('KubernetesServiceInstance');
    expect(r.dependencies('Port').sort()).to.deep.equal(['Network', 'ServiceInstance']);
  });

  it('names tables in snake case', () => {
    expect(snakeCase('VSGServiceInstance')).to.equal('vsg_service_instance');
    expect(snakeCase('NetworkSlice')).to.equal('network_slice');
  });

  it('refuses a package naming an unknown model, and keeps what it had', () => {
    const r = defaultRegistry();
    expect(() => {
      r.registerPackage('bad', [
        { name: 'Fine', description: 'ok', fields: {} },
        {
          name: 'Broken',
          description: 'refers to nothing',
          fields: {
            thing: { type: 'reference', reference: { model: 'Nope', onDelete: 'cascade' } },
          },
        },
      ]);
    }).to.throw(/Broken.thing: refers to unknown model Nope/);
    expect(r.has('Fine')).to.equal(false);
  });

  it('refuses a field that shadows a bookkeeping column', () => {
    const r = new Registry();
    expect(() => {
      r.registerPackage('x', [
        { name: 'A', description: '', fields: { version: { type: 'integer' } } },
      ]);
    }).to.throw(/A.version: the name of a bookkeeping column/);
  });
});
