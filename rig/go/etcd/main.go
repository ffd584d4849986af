// Command etcd is etcd's own server, built from the go.etcd.io/etcd/server/v3
// module at the version pinned in rig/versions.json (Debian's etcd is too old
// for the watch-progress requests current kube-apiservers make).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
