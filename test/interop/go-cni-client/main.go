// go-cni-client drives knet's plugins through containerd's go-cni, the
// library the CRI plugin (and so kubelet) uses to set up pod networks: the
// loopback network plus the default network from a conf dir or one conflist,
// the bandwidth capability filled in the way containerd 1.6's CRI does it
// (rate from the pod annotation, burst math.MaxUint32), Setup and Remove.
//
// Usage: go-cni-client setup|check|remove <confdir|conflist> <bindir> <netns> <containerID>
//
// Environment: CNI_CACHE_DIR (libcni's result cache, instead of /var/lib/cni),
// INGRESS_RATE / EGRESS_RATE (bits/s; the bandwidth capability when set).
// setup prints go-cni's Result as JSON: {"interfaces": {name: {ips, mac,
// sandbox}}, "routes": [...], "dns": [...]}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	cni "github.com/containerd/go-cni"
	"github.com/containernetworking/cni/libcni"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-cni-client: "+format+"\n", args...)
	os.Exit(1)
}

// bandwidth is what containerd's CRI passes for the kubernetes.io/ingress-
// and egress-bandwidth annotations: the rate, and math.MaxUint32 as burst.
func bandwidth() (cni.BandWidth, bool) {
	var bw cni.BandWidth
	set := false
	for _, r := range []struct {
		env         string
		rate, burst *uint64
	}{{"INGRESS_RATE", &bw.IngressRate, &bw.IngressBurst}, {"EGRESS_RATE", &bw.EgressRate, &bw.EgressBurst}} {
		if v := os.Getenv(r.env); v != "" {
			rate, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				fail("%s: %v", r.env, err)
			}
			*r.rate, *r.burst, set = rate, math.MaxUint32, true
		}
	}
	return bw, set
}

type ipJSON struct {
	IP      string `json:"ip"`
	Gateway string `json:"gateway,omitempty"`
}

type ifaceJSON struct {
	IPs     []ipJSON `json:"ips"`
	Mac     string   `json:"mac"`
	Sandbox string   `json:"sandbox"`
}

func printResult(res *cni.Result) {
	out := map[string]interface{}{"routes": res.Routes, "dns": res.DNS}
	ifaces := map[string]ifaceJSON{}
	for name, c := range res.Interfaces {
		j := ifaceJSON{IPs: []ipJSON{}, Mac: c.Mac, Sandbox: c.Sandbox}
		for _, ip := range c.IPConfigs {
			e := ipJSON{IP: ip.IP.String()}
			if ip.Gateway != nil {
				e.Gateway = ip.Gateway.String()
			}
			j.IPs = append(j.IPs, e)
		}
		ifaces[name] = j
	}
	out["interfaces"] = ifaces
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("print: %v", err)
	}
}

func main() {
	if len(os.Args) != 6 {
		fail("usage: go-cni-client setup|check|remove <confdir|conflist> <bindir> <netns> <containerID>")
	}
	action, conf, bindir, netns, id := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	if dir := os.Getenv("CNI_CACHE_DIR"); dir != "" {
		libcni.CacheDir = dir // go-cni has no option for it; containerd uses the default
	}
	// The order containerd uses: the plugin dir first (WithLoNetwork captures
	// the exec config), then loopback, then the pod network. check leaves
	// loopback out: go-cni's loopback config is 0.3.1, which has no CHECK.
	opts := []cni.Opt{cni.WithPluginDir([]string{bindir})}
	if action != "check" {
		opts = append(opts, cni.WithMinNetworkCount(2), cni.WithLoNetwork)
	}
	if strings.HasSuffix(conf, ".conflist") {
		opts = append(opts, cni.WithConfListFile(conf))
	} else {
		opts = append(opts, cni.WithPluginConfDir(conf), cni.WithDefaultConf)
	}
	c, err := cni.New(opts...)
	if err != nil {
		fail("new: %v", err)
	}
	var nsOpts []cni.NamespaceOpts
	if bw, ok := bandwidth(); ok {
		nsOpts = append(nsOpts, cni.WithCapabilityBandWidth(bw))
	}
	// CRI's pod labels go to the plugins as CNI_ARGS.
	nsOpts = append(nsOpts, cni.WithLabels(map[string]string{
		"K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": "pod-" + id, "K8S_POD_INFRA_CONTAINER_ID": id,
		"IgnoreUnknown": "1",
	}))

	ctx := context.Background()
	switch action {
	case "setup":
		res, err := c.Setup(ctx, id, netns, nsOpts...)
		if err != nil {
			fail("setup: %v", err)
		}
		printResult(res)
	case "check":
		if err := c.Check(ctx, id, netns, nsOpts...); err != nil {
			fail("check: %v", err)
		}
	case "remove":
		if err := c.Remove(ctx, id, netns, nsOpts...); err != nil {
			fail("remove: %v", err)
		}
	default:
		fail("unknown action %q", action)
	}
}
