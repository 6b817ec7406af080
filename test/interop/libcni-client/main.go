// libcni-client drives a network configuration list through the Go libcni
// that real runtimes (containerd, CRI-O, podman) embed, so knet's plugins and
// cnitool are tested against it: every result must be one libcni accepts,
// and libcni's cache must interoperate with knet's cnitool.
//
// Usage: libcni-client add|check|del <conflist> <netns> <containerID> <ifname>
//
// Environment: CNI_PATH, CNI_CACHE_DIR (libcni's cache dir), CAP_ARGS (JSON).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "libcni-client: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 6 {
		fail("usage: libcni-client add|check|del <conflist> <netns> <containerID> <ifname>")
	}
	cmd, file := os.Args[1], os.Args[2]
	list, err := libcni.ConfListFromFile(file)
	if err != nil {
		fail("%v", err)
	}
	rt := &libcni.RuntimeConf{
		ContainerID: os.Args[4],
		NetNS:       os.Args[3],
		IfName:      os.Args[5],
		Args:        [][2]string{{"IgnoreUnknown", "1"}},
	}
	if caps := os.Getenv("CAP_ARGS"); caps != "" {
		if err := json.Unmarshal([]byte(caps), &rt.CapabilityArgs); err != nil {
			fail("CAP_ARGS: %v", err)
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")),
		os.Getenv("CNI_CACHE_DIR"), nil)
	ctx := context.Background()

	switch cmd {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail("add: %v", err)
		}
		check(res, list.CNIVersion)
		// The cache libcni just wrote must give the same result back.
		cached, err := cni.GetNetworkListCachedResult(list, rt)
		if err != nil || cached == nil {
			fail("cached result: %v", err)
		}
		check(cached, list.CNIVersion)
		if err := res.Print(); err != nil {
			fail("print: %v", err)
		}
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail("check: %v", err)
		}
	case "del":
		// A cache written by knet's cnitool must be readable here.
		if cached, err := cni.GetNetworkListCachedResult(list, rt); err != nil {
			fail("cached result: %v", err)
		} else if cached != nil {
			check(cached, list.CNIVersion)
		}
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail("del: %v", err)
		}
	default:
		fail("unknown command %q", cmd)
	}
}

// check asserts the result is in the list's version and converts to the
// current version, as a runtime does before reading addresses from it.
func check(res types.Result, version string) {
	if res.Version() != version {
		fail("result version %q, config version %q", res.Version(), version)
	}
	cur, err := current.NewResultFromResult(res)
	if err != nil {
		fail("result does not convert to %s: %v", current.ImplementedSpecVersion, err)
	}
	for _, ip := range cur.IPs {
		if ip.Interface != nil && (*ip.Interface < 0 || *ip.Interface >= len(cur.Interfaces)) {
			fail("ip %s refers to interface %d of %d", ip.Address.String(), *ip.Interface, len(cur.Interfaces))
		}
	}
}
