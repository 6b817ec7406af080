#!/usr/bin/python3
"""A small CRI v1 client: the calls kubelet makes to set up and tear down a
pod's network, one per invocation, against a runtime's socket.

Usage: cri_client.py PYDIR SOCKET COMMAND [ARGS]
  PYDIR    where api.proto was compiled (api_pb2.py, api_pb2_grpc.py)
  version                          runtime name and version
  network-ready                    "true" or "false" (the NetworkReady condition), and its message
  cni-config                       the runtime's CNI config (verbose Status, key "cniconfig")
  update-cidr CIDR[,CIDR]          UpdateRuntimeConfig with this pod CIDR (kubelet's node.spec.podCIDRs)
  run NAME UID CGROUP_PARENT       RunPodSandbox; prints the sandbox id
  status ID                        JSON: {"state", "ip", "additional_ips", "netns"}
  stop ID                          StopPodSandbox
  remove ID                        RemovePodSandbox

Exit status 0 on success; 1 with the gRPC status on stderr otherwise.
Every call has a deadline (30 s): the test never hangs on a runtime.
"""
import json
import sys

import grpc

DEADLINE_S = 30


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, argv[1])
    import api_pb2 as api
    import api_pb2_grpc as api_grpc

    channel = grpc.insecure_channel("unix://" + argv[2])
    rt = api_grpc.RuntimeServiceStub(channel)
    cmd, args = argv[3], argv[4:]
    try:
        if cmd == "version":
            r = rt.Version(api.VersionRequest(version="v1"), timeout=DEADLINE_S)
            print(r.runtime_name, r.runtime_version, r.runtime_api_version)
        elif cmd == "network-ready":
            r = rt.Status(api.StatusRequest(), timeout=DEADLINE_S)
            cond = [c for c in r.status.conditions if c.type == "NetworkReady"]
            print("true" if cond and cond[0].status else "false", cond[0].message if cond else "")
        elif cmd == "cni-config":
            r = rt.Status(api.StatusRequest(verbose=True), timeout=DEADLINE_S)
            print(r.info.get("cniconfig", "{}"))
        elif cmd == "update-cidr":
            rt.UpdateRuntimeConfig(
                api.UpdateRuntimeConfigRequest(
                    runtime_config=api.RuntimeConfig(network_config=api.NetworkConfig(pod_cidr=args[0]))
                ),
                timeout=DEADLINE_S,
            )
        elif cmd == "run":
            name, uid, cgroup_parent = args
            config = api.PodSandboxConfig(
                metadata=api.PodSandboxMetadata(name=name, uid=uid, namespace="default", attempt=0),
                hostname=name,
                labels={"io.kubernetes.pod.name": name},
                linux=api.LinuxPodSandboxConfig(cgroup_parent=cgroup_parent),
            )
            r = rt.RunPodSandbox(api.RunPodSandboxRequest(config=config), timeout=DEADLINE_S)
            print(r.pod_sandbox_id)
        elif cmd == "status":
            r = rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=args[0], verbose=True),
                                    timeout=DEADLINE_S)
            # containerd's verbose info: the sandbox's OCI spec names its netns.
            info = json.loads(r.info.get("info", "{}"))
            spaces = info.get("runtimeSpec", {}).get("linux", {}).get("namespaces", [])
            netns = [n.get("path", "") for n in spaces if n.get("type") == "network"]
            print(json.dumps({
                "state": api.PodSandboxState.Name(r.status.state),
                "ip": r.status.network.ip,
                "additional_ips": [p.ip for p in r.status.network.additional_ips],
                "netns": netns[0] if netns else "",
            }))
        elif cmd == "stop":
            rt.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=args[0]), timeout=DEADLINE_S)
        elif cmd == "remove":
            rt.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=args[0]), timeout=DEADLINE_S)
        else:
            print(f"unknown command {cmd}", file=sys.stderr)
            return 2
    except grpc.RpcError as e:
        print(f"{cmd} failed: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
