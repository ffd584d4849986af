// Command kubevirt-crds prints the CustomResourceDefinitions KubeVirt's virt-operator installs,
// made by KubeVirt's own generator (kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/
// components) at the version pinned in rig/versions.json, with their full openAPIV3Schema: one
// JSON List on stdout, for `kubectl apply -f -` or the rig's server-side apply. KubeVirt ships
// no static CRD file; its operator makes these at run time, and so does this.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
)

// The CRDs of KubeVirt's install strategy (GenerateCurrentInstallStrategy in
// pkg/virt-operator/resource/generate/install/strategy.go), in its order.
var crds = []func() (*extv1.CustomResourceDefinition, error){
	components.NewVirtualMachineInstanceCrd, components.NewPresetCrd, components.NewReplicaSetCrd,
	components.NewVirtualMachineCrd, components.NewVirtualMachineInstanceMigrationCrd,
	components.NewVirtualMachineSnapshotCrd, components.NewVirtualMachineSnapshotContentCrd,
	components.NewVirtualMachineRestoreCrd, components.NewVirtualMachineInstancetypeCrd,
	components.NewVirtualMachineClusterInstancetypeCrd, components.NewVirtualMachinePoolCrd,
	components.NewMigrationPolicyCrd, components.NewVirtualMachinePreferenceCrd,
	components.NewVirtualMachineClusterPreferenceCrd, components.NewVirtualMachineExportCrd,
	components.NewVirtualMachineCloneCrd,
}

func main() {
	items := make([]map[string]any, 0, len(crds))
	for _, f := range crds {
		crd, err := f()
		if err != nil {
			fmt.Fprintf(os.Stderr, "kubevirt-crds: %v\n", err)
			os.Exit(1)
		}
		raw, err := json.Marshal(crd)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kubevirt-crds: %s: %v\n", crd.Name, err)
			os.Exit(1)
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			fmt.Fprintf(os.Stderr, "kubevirt-crds: %s: %v\n", crd.Name, err)
			os.Exit(1)
		}
		// What KubeVirt's own manifest writer drops too: the empty status and creation time.
		delete(obj, "status")
		if meta, ok := obj["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		items = append(items, obj)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}); err != nil {
		fmt.Fprintf(os.Stderr, "kubevirt-crds: %v\n", err)
		os.Exit(1)
	}
}
