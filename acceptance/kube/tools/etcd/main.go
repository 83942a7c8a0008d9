// Command etcd is the etcd server, from go.etcd.io/etcd/server/v3 at the
// version go.mod pins: the upstream etcd main cannot be built by import
// path outside etcd's repository (its go.mod has relative replaces).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
