// Syncord's Kubernetes rights are the least-privilege ClusterRole of deploy/rbac/syncord.yaml, and
// every Syncord the tests run has exactly those: the rig applies the file and writes a kubeconfig
// for its ServiceAccount ($SYNCORD_KUBECONFIG), which Syncord prefers to $KUBECONFIG (the admin's,
// kept for the tests' own clients). The Kubernetes step tests, the crash tests and the serve tests
// all converge as that ServiceAccount.
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { KubernetesCluster } from '../../backends/kubernetes/index.js';
import { kubeConfig, rig, uniqueName, type RigEnv } from '../support/rig.js';
import { normalRules } from '../support/rbac.js';

const MANIFEST = new URL('../../deploy/rbac/syncord.yaml', import.meta.url);
const SA_USER = 'system:serviceaccount:syncord-system:syncord';

interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: k8s.V1PolicyRule[];
}

function manifest(): Doc[] {
  return parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map((d) => d.toJS() as Doc);
}

describe('security: Syncord runs in Kubernetes with least privilege (deploy/rbac/syncord.yaml)', function () {
  this.timeout(120_000);
  let env: RigEnv;
  let own: k8s.KubeConfig;

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    own = new k8s.KubeConfig();
    own.loadFromFile(env.SYNCORD_KUBECONFIG);
  });

  it('grants only the rules of the file, to its ServiceAccount', async () => {
    const docs = manifest();
    const role = docs.find((d) => d.kind === 'ClusterRole');
    expect(role?.metadata.name).to.equal('syncord');
    const rbac = kubeConfig(env).makeApiClient(k8s.RbacAuthorizationV1Api);
    const live = await rbac.readClusterRole({ name: 'syncord' });
    expect(normalRules(live.rules ?? [])).to.deep.equal(normalRules(role?.rules ?? []));
    // Nothing in the file reads secrets, touches nodes or grants roles.
    const all = (role?.rules ?? []).flatMap((r) => r.resources ?? []);
    expect(all).to.not.include.members(['secrets', 'nodes', 'clusterrolebindings', 'rolebindings']);
    expect((role?.rules ?? []).flatMap((r) => r.verbs)).to.not.include.members([
      '*',
      'escalate',
      'bind',
      'impersonate',
    ]);
    const binding = await rbac.readClusterRoleBinding({ name: 'syncord' });
    expect(binding.roleRef.name).to.equal('syncord');
    expect(binding.subjects).to.deep.equal([
      { kind: 'ServiceAccount', name: 'syncord', namespace: 'syncord-system' },
    ]);
  });

  it("is who Syncord's default cluster authenticates as (not the admin of $KUBECONFIG)", async () => {
    const who = await own
      .makeApiClient(k8s.AuthenticationV1Api)
      .createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1' } });
    expect(who.status?.userInfo?.username).to.equal(SA_USER);
    expect(who.status?.userInfo?.groups ?? []).to.not.include('system:masters');
    // The client Syncord's steps use when no Cluster model gives a kubeconfig: refused what
    // the role does not grant, in the ServiceAccount's name.
    const cluster = KubernetesCluster.fromKubeconfig();
    const err = await cluster.list('v1', 'Secret', 'kube-system').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'listing secrets as Syncord').to.be.instanceOf(Error);
    expect((err as Error).message).to.match(/forbidden/i);
    expect((err as Error).message).to.include(SA_USER);
  });

  it('may do what its steps do, and nothing else that matters', async () => {
    const review = own.makeApiClient(k8s.AuthorizationV1Api);
    const can = async (attrs: k8s.V1ResourceAttributes) =>
      (
        await review.createSelfSubjectAccessReview({
          body: { spec: { resourceAttributes: attrs } },
        })
      ).status?.allowed === true;
    const ns = uniqueName('rbac');
    const allowed: [string, k8s.V1ResourceAttributes][] = [
      ['create namespaces', { verb: 'create', resource: 'namespaces' }],
      ['patch pods', { verb: 'patch', resource: 'pods', namespace: ns }],
      ['watch pods everywhere', { verb: 'watch', resource: 'pods' }],
      ['delete configmaps', { verb: 'delete', resource: 'configmaps', namespace: ns }],
      ['create serviceaccounts', { verb: 'create', resource: 'serviceaccounts', namespace: ns }],
      [
        'patch NADs',
        {
          verb: 'patch',
          group: 'k8s.cni.cncf.io',
          resource: 'network-attachment-definitions',
          namespace: ns,
        },
      ],
      [
        'patch VMs',
        { verb: 'patch', group: 'kubevirt.io', resource: 'virtualmachines', namespace: ns },
      ],
    ];
    const denied: [string, k8s.V1ResourceAttributes][] = [
      ['get secrets', { verb: 'get', resource: 'secrets', namespace: 'kube-system' }],
      ['list secrets', { verb: 'list', resource: 'secrets' }],
      ['patch nodes', { verb: 'patch', resource: 'nodes' }],
      ['delete nodes', { verb: 'delete', resource: 'nodes' }],
      ['exec into pods', { verb: 'create', resource: 'pods', subresource: 'exec', namespace: ns }],
      ['write pod status', { verb: 'patch', resource: 'pods', subresource: 'status' }],
      [
        'bind roles',
        { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
      ],
      [
        'escalate',
        { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      ],
      ['impersonate', { verb: 'impersonate', resource: 'users' }],
      ['make a token', { verb: 'create', resource: 'serviceaccounts', subresource: 'token' }],
      [
        'change CRDs',
        {
          verb: 'patch',
          group: 'apiextensions.k8s.io',
          resource: 'customresourcedefinitions',
        },
      ],
    ];
    const wrong: string[] = [];
    for (const [what, attrs] of allowed) if (!(await can(attrs))) wrong.push(`may not ${what}`);
    for (const [what, attrs] of denied) if (await can(attrs)) wrong.push(`may ${what}`);
    expect(wrong).to.deep.equal([]);
  });
});
