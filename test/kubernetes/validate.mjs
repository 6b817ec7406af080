// Offline checks of deploy/kubernetes/knet.yaml: every object validated
// against Kubernetes' OpenAPI schema (npm kubernetes-models), then what a
// schema cannot see: the pod really is a host-network, tolerate-all,
// node-critical pod, its mounts and env references resolve, the init
// container's command is a `knet install` the binary accepts, knet-node's
// flags are ones knet-node knows, and the probes hit the address given to
// --healthz-addr.
//
// Usage: node validate.mjs MANIFEST... [--knet BIN] [--knet-node BIN]
// (with the binaries, their --help texts are the source of the known flags).
// One manifest: a line per check group, then PASS, or every failure listed.
// Several: one line each, `PASS <file>` or `FAIL <file>: <reason>` per
// failure. Exit 0 only if every manifest passed.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { Namespace, ConfigMap, Secret, ServiceAccount } from "kubernetes-models/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";

const models = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/ServiceAccount": ServiceAccount,
  "apps/v1/DaemonSet": DaemonSet,
};

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const manifests = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
let failures = [];
let log = console.log;
const check = (ok, what) => {
  if (!ok) failures.push(what);
};

// --flag names a program's --help prints (knet-node, `knet install`).
const helpCache = new Map();
function helpFlags(argv) {
  const key = argv.join(" ");
  if (!helpCache.has(key)) helpCache.set(key, readHelp(argv));
  return helpCache.get(key);
}
function readHelp(argv) {
  let text;
  try {
    text = execFileSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 10000 });
  } catch (e) {
    text = `${e.stdout ?? ""}${e.stderr ?? ""}`;  // some print --help on stderr
  }
  return new Set([...text.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]));
}

// ["--a=b", "--c", "d"] as Map{a: "b", c: "d"}; flags without "=" take the next
// item unless it is a flag too.
function parseFlags(list) {
  const flags = new Map();
  for (let i = 0; i < list.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/s.exec(list[i]);
    if (!m) {
      failures.push(`not a --flag: ${JSON.stringify(list[i])}`);
      continue;
    }
    if (m[2] !== undefined) flags.set(m[1], m[2]);
    else if (i + 1 < list.length && !list[i + 1].startsWith("--")) flags.set(m[1], list[++i]);
    else flags.set(m[1], "");
  }
  return flags;
}

function validate(manifestPath) {
  // --- 1. parse and schema-validate every document ---------------------------
  const docs = parseAllDocuments(readFileSync(manifestPath, "utf8"));
  const objects = [];
  for (const doc of docs) {
    if (doc.errors.length) {
      failures.push(`YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    const key = `${obj.apiVersion}/${obj.kind}`;
    const Model = models[key];
    if (!Model) {
      failures.push(`${key} ${obj.metadata?.name}: no schema known to this test`);
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (e) {
      failures.push(`${key} ${obj.metadata?.name}: schema: ${e.message}`);
    }
    objects.push(obj);
  }
  const one = (kind) => {
    const found = objects.filter((o) => o.kind === kind);
    check(found.length === 1, `expected exactly one ${kind}, found ${found.length}`);
    return found[0] ?? {};
  };
  const ns = one("Namespace");
  const cm = one("ConfigMap");
  const ds = one("DaemonSet");
  const sa = one("ServiceAccount");
  if (failures.length) return;
  log(`schema: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")} valid`);

  // --- 2. namespace and placement ------------------------------------------------
  const nsName = ns.metadata.name;
  for (const o of objects) {
    if (o.kind !== "Namespace") check(o.metadata.namespace === nsName, `${o.kind} ${o.metadata.name} not in namespace ${nsName}`);
  }
  check(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"] === "privileged",
    "Namespace lacks pod-security.kubernetes.io/enforce: privileged (hostNetwork and hostPath pods are refused otherwise)");
  const pod = ds.spec.template.spec;
  check(pod.hostNetwork === true, "pod is not hostNetwork");
  check(pod.priorityClassName === "system-node-critical", "priorityClassName is not system-node-critical");
  check(pod.serviceAccountName === sa.metadata.name, `serviceAccountName ${pod.serviceAccountName} is not ${sa.metadata.name}`);
  check((pod.tolerations ?? []).some((t) => t.operator === "Exists" && !t.key && !t.effect),
    "no toleration of every taint ({operator: Exists} without key and effect)");
  const selector = ds.spec.selector.matchLabels ?? {};
  for (const [k, v] of Object.entries(selector)) {
    check(ds.spec.template.metadata.labels?.[k] === v, `selector ${k}=${v} does not match the pod template's labels`);
  }
  log("placement: hostNetwork, system-node-critical, tolerates every taint, privileged namespace");

  // --- 3. volumes, mounts, env ---------------------------------------------------
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  const containers = [...(pod.initContainers ?? []), ...pod.containers];
  const used = new Set();
  const mountOf = (c, dir) => (c.volumeMounts ?? []).find((m) => dir === m.mountPath || dir.startsWith(`${m.mountPath}/`));
  for (const c of containers) {
    for (const m of c.volumeMounts ?? []) {
      check(volumes.has(m.name), `container ${c.name} mounts ${m.name}, which is no volume of the pod`);
      used.add(m.name);
    }
    check(c.resources?.requests?.cpu && c.resources?.requests?.memory, `container ${c.name} has no cpu and memory requests`);
    const defined = new Set((c.env ?? []).map((e) => e.name));
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.configMapKeyRef;
      if (ref) {
        check(ref.name === cm.metadata.name && ref.key in (cm.data ?? {}),
          `container ${c.name} env ${e.name} refers to ${ref.name}/${ref.key}, which the ConfigMap does not hold`);
      }
    }
    for (const s of [...(c.command ?? []), ...(c.args ?? [])]) {
      for (const m of s.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
        check(defined.has(m[1]), `container ${c.name}: $(${m[1]}) in its command is not in its env`);
      }
    }
    check(c.securityContext?.privileged !== true, `container ${c.name} is privileged`);
  }
  for (const name of volumes.keys()) check(used.has(name), `volume ${name} is mounted by no container`);
  for (const v of volumes.values()) {
    if (v.configMap) check(v.configMap.name === cm.metadata.name, `volume ${v.name} names ConfigMap ${v.configMap.name}`);
    for (const item of v.configMap?.items ?? []) check(item.key in cm.data, `volume ${v.name} projects missing key ${item.key}`);
  }
  // The hostPath behind an absolute path inside container c.
  const hostPathOf = (c, dir) => {
    const m = mountOf(c, dir);
    const v = m && volumes.get(m.name);
    return v?.hostPath ? path.posix.join(v.hostPath.path, path.posix.relative(m.mountPath, dir)) : undefined;
  };
  log("volumes: every mount names a volume, every volume is mounted, env references resolve");

  // --- 4. the init container: `knet install` ------------------------------------
  const init = (pod.initContainers ?? []).find((c) => [...(c.command ?? []), ...(c.args ?? [])].includes("install"));
  check(init, "no init container runs `knet install`");
  const conflistKeys = Object.keys(cm.data ?? {}).filter((k) => k.endsWith(".conflist"));
  check(conflistKeys.length === 1, `ConfigMap holds ${conflistKeys.length} conflists, expected one`);
  const conflistKey = conflistKeys[0];
  let conflist = {};
  try {
    conflist = JSON.parse(cm.data[conflistKey]);
  } catch (e) {
    failures.push(`ConfigMap ${conflistKey} is not JSON: ${e.message}`);
  }
  if (init) {
    const argv = [...(init.command ?? []), ...(init.args ?? [])];
    check(path.posix.basename(argv[0]) === "knet" && argv[1] === "install", `init command is not \`knet install\`: ${argv.join(" ")}`);
    const flags = parseFlags(argv.slice(2));
    const known = opt("--knet") ? helpFlags([opt("--knet"), "install", "--help"])
                                : new Set(["bin-dir", "conf-dir", "conflist", "conf-name", "exclusive"]);
    for (const f of flags.keys()) check(known.has(f), `knet install has no flag --${f} (it knows ${[...known].join(", ")})`);
    for (const f of ["bin-dir", "conf-dir", "conflist"]) check(flags.get(f), `knet install needs --${f}`);
    check(hostPathOf(init, flags.get("bin-dir") ?? "") === "/opt/cni/bin", "--bin-dir is not the host's /opt/cni/bin");
    check(hostPathOf(init, flags.get("conf-dir") ?? "") === "/etc/cni/net.d", "--conf-dir is not the host's /etc/cni/net.d");
    const src = flags.get("conflist") ?? "";
    const srcMount = mountOf(init, src);
    const srcVol = srcMount && volumes.get(srcMount.name);
    const projected = (srcVol?.configMap?.items ?? []).find((i) => path.posix.join(srcMount.mountPath, i.path) === src);
    check(projected?.key === conflistKey, `--conflist ${src} is not the ConfigMap's ${conflistKey}`);
    const confName = flags.get("conf-name") ?? path.posix.basename(src);
    check(/\.conflist$/.test(confName) && confName < "05", `conf name ${confName} does not sort before other CNI configs (e.g. 05-, 10-)`);
  }
  log("init: `knet install` with known flags, into the host's /opt/cni/bin and /etc/cni/net.d, lexically first name");

  // --- 5. the conflist ------------------------------------------------------------
  const types = (conflist.plugins ?? []).map((p) => p.type);
  check(JSON.stringify(types) === JSON.stringify(["vxlan", "bandwidth", "loopback"]), `conflist plugins are ${types}, not vxlan, bandwidth, loopback`);
  const vx = (conflist.plugins ?? [])[0] ?? {};
  check(vx.mode === "l3", "vxlan is not in l3 mode");
  check(vx.ipam?.type === "host-local" && !vx.ipam.ranges && !vx.ipam.subnet, "vxlan ipam is not a host-local completed per node (no ranges, no subnet)");

  // --- 6. knet-node: flags, peersFile, probes ------------------------------------
  const agent = pod.containers.find((c) => path.posix.basename((c.command ?? [])[0] ?? "") === "knet-node");
  check(agent, "no container runs knet-node");
  if (agent) {
    const flags = parseFlags([...agent.command.slice(1), ...(agent.args ?? [])]);
    if (opt("--knet-node")) {
      const known = helpFlags([opt("--knet-node"), "--help"]);
      for (const f of flags.keys()) check(known.has(f), `knet-node has no flag --${f}`);
    }
    const env = new Map((agent.env ?? []).map((e) => [e.name, e]));
    const value = (f) => {
      const v = flags.get(f) ?? "";
      const m = /^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(v);
      const ref = m && env.get(m[1])?.valueFrom?.configMapKeyRef;
      return ref ? cm.data[ref.key] : v;
    };
    check(value("cni-network") === conflist.name, `--cni-network ${value("cni-network")} is not the conflist's name ${conflist.name}`);
    const peers = value("peers-file") || "/run/knet/vxlan-peers.json";
    check(peers === vx.peersFile, `knet-node writes ${peers}, the plugin reads ${vx.peersFile}`);
    check(hostPathOf(agent, path.posix.dirname(peers)) === path.posix.dirname(vx.peersFile),
      `${peers} in knet-node is not the host's ${vx.peersFile}`);
    check(hostPathOf(agent, "/run/knet") === "/run/knet", "the plugin's lock dir /run/knet is not the host's");
    const caps = agent.securityContext?.capabilities?.add ?? [];
    for (const cap of ["NET_ADMIN", "NET_RAW"]) check(caps.includes(cap), `knet-node lacks ${cap}`);
    check(env.get("KNET_NODE_NAME")?.valueFrom?.fieldRef?.fieldPath === "spec.nodeName", "node name is not from the downward API");
    const hz = /^(.*):(\d+)$/.exec(value("healthz-addr"));
    check(hz, "knet-node has no --healthz-addr=HOST:PORT");
    for (const kind of ["readinessProbe", "livenessProbe"]) {
      const g = agent[kind]?.httpGet;
      check(g, `knet-node has no ${kind}.httpGet`);
      if (!g || !hz) continue;
      const port = typeof g.port === "string" ? agent.ports?.find((p) => p.name === g.port)?.containerPort : g.port;
      check(g.path === "/healthz", `${kind} path ${g.path} is not /healthz`);
      check(String(port) === hz[2], `${kind} port ${port} is not --healthz-addr's ${hz[2]}`);
      check((g.host ?? "") === hz[1] || hz[1] === "0.0.0.0", `${kind} host ${g.host} is not --healthz-addr's ${hz[1]}`);
    }
  }
  log("knet-node: known flags, peersFile and lock dir shared with the host, probes on --healthz-addr");
}

let allPassed = true;
for (const m of manifests) {
  failures = [];
  log = manifests.length === 1 ? console.log : () => {};
  try {
    validate(m);
  } catch (e) {
    failures.push(`cannot check further: ${e.message}`);  // e.g. a missing spec.template
  }
  allPassed &&= failures.length === 0;
  if (failures.length === 0) console.log(`PASS ${m}`);
  for (const f of failures) console.error(manifests.length === 1 ? `FAIL: ${f}` : `FAIL ${m}: ${f}`);
}
process.exit(allPassed && manifests.length ? 0 : 1);
