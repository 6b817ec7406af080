// libcni-timer runs one verb of a network configuration list through the Go
// libcni that containerd, CRI-O and podman embed, and prints how long libcni
// took (milliseconds, one line). knet-bench uses it to time knet's and the
// reference plugins' chains inside a real runtime library, without the Go
// process start-up.
//
// Usage: libcni-timer add|check|del <conflist> <netns> <containerID> <ifname>
// Environment: CNI_PATH, CNI_CACHE_DIR.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: libcni-timer add|check|del <conflist> <netns> <containerID> <ifname>")
		os.Exit(2)
	}
	list, err := libcni.ConfListFromFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rt := &libcni.RuntimeConf{ContainerID: os.Args[4], NetNS: os.Args[3], IfName: os.Args[5]}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")),
		os.Getenv("CNI_CACHE_DIR"), nil)
	ctx := context.Background()
	start := time.Now()
	switch os.Args[1] {
	case "add":
		_, err = cni.AddNetworkList(ctx, list, rt)
	case "check":
		err = cni.CheckNetworkList(ctx, list, rt)
	case "del":
		err = cni.DelNetworkList(ctx, list, rt)
	default:
		err = fmt.Errorf("unknown verb %q", os.Args[1])
	}
	elapsed := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%.3f\n", float64(elapsed.Microseconds())/1000)
}
