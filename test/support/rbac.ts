// Kubernetes RBAC rules in a form that compares: each rule's lists sorted, the rules sorted.
import type * as k8s from '@kubernetes/client-node';

export const normalRules = (rules: readonly k8s.V1PolicyRule[]): string[] =>
  rules
    .map((r) =>
      JSON.stringify({
        apiGroups: [...(r.apiGroups ?? [])].sort(),
        resources: [...(r.resources ?? [])].sort(),
        verbs: [...r.verbs].sort(),
      }),
    )
    .sort();
