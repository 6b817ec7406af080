// Turns deploy/kubernetes/knet.yaml into what `podman kube play` (4.3) runs
// as one node of the DaemonSet: the ConfigMap, with the keys given as
// KEY=VALUE set, and a Pod made of the DaemonSet's pod template. On stdout.
//
// What changes on the way, and why (everything else is kept as written):
// - the probes are dropped: podman runs them inside the container with curl,
//   which the scratch image does not have, and needs systemd timers; the test
//   sends the kubelet's request itself (probe_urls.txt, written next to the
//   output with --probes FILE: one `URL` line per httpGet probe);
// - Kubernetes-only pod fields podman warns about or refuses (priorityClassName,
//   tolerations, serviceAccountName, automountServiceAccountToken, dnsPolicy,
//   terminationGracePeriodSeconds) are dropped: they place the pod, they do
//   not change what runs in it;
// - an optional Secret volume whose Secret the manifest does not hold becomes
//   an emptyDir, which is what kubelet mounts for it (podman 4.3 ignores
//   `optional` and refuses the pod);
// - the downward API's spec.nodeName (podman 4.3 knows only metadata.*)
//   becomes its value, as kubelet fills it: --node-name NAME (default "node");
// - the init containers are podman's "always" kind (annotation
//   io.podman.annotations.init.container.type): podman 4.3 removes a "once"
//   init container right after it exits and that removal races its exit
//   (containers/podman#18477); "always" keeps it for the test to inspect;
// - restartPolicy OnFailure: podman 4.3 applies the pod's restart policy to
//   init containers too, and would run `knet install` again and again under
//   Always (containers/podman#16343);
// - $(VAR) in command and args is expanded here, as kubelet does it, from the
//   container's env (values and ConfigMap keys): podman 4.3 passes it as is;
// - a host-network pod's `ports` are dropped: podman refuses them (kubelet
//   takes them as documentation).
//
// Usage: node pod_from_daemonset.mjs MANIFEST [--set KEY=VALUE]... [--node-name NAME]
//          [--probes FILE]
import { readFileSync, writeFileSync } from "node:fs";
import { parseAllDocuments, stringify } from "yaml";

const args = process.argv.slice(2);
const objects = parseAllDocuments(readFileSync(args[0], "utf8")).map((d) => d.toJS()).filter(Boolean);
const cm = objects.find((o) => o.kind === "ConfigMap");
const ds = objects.find((o) => o.kind === "DaemonSet");
if (!cm || !ds) {
  console.error(`${args[0]}: needs a ConfigMap and a DaemonSet`);
  process.exit(1);
}
let probesFile;
let nodeName = "node";
for (let i = 1; i < args.length; i++) {
  if (args[i] === "--set") {
    const [key, ...rest] = args[++i].split("=");
    if (!(key in cm.data)) {
      console.error(`--set ${key}: the ConfigMap has no such key`);
      process.exit(1);
    }
    cm.data[key] = rest.join("=");
  } else if (args[i] === "--node-name") {
    nodeName = args[++i];
  } else if (args[i] === "--probes") {
    probesFile = args[++i];
  } else {
    console.error(`unknown argument ${args[i]}`);
    process.exit(1);
  }
}

const spec = structuredClone(ds.spec.template.spec);
for (const f of ["priorityClassName", "tolerations", "serviceAccountName", "automountServiceAccountToken",
                 "dnsPolicy", "terminationGracePeriodSeconds"]) {
  delete spec[f];
}
spec.restartPolicy = "OnFailure";
for (const v of spec.volumes ?? []) {
  const secret = v.secret;
  if (secret?.optional && !objects.some((o) => o.kind === "Secret" && o.metadata.name === secret.secretName)) {
    delete v.secret;
    v.emptyDir = {};
  }
}
for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef?.fieldPath === "spec.nodeName") {
      delete e.valueFrom;
      e.value = nodeName;
    }
  }
}
// kubelet's expansion: $(VAR) of a defined variable is its value, $$ is $,
// anything else stays as written.
for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
  const vars = new Map();
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    if (e.value !== undefined) vars.set(e.name, e.value);
    else if (ref?.name === cm.metadata.name && ref.key in cm.data) vars.set(e.name, cm.data[ref.key]);
  }
  const expand = (s) => s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) =>
    m === "$$" ? "$" : vars.has(name) ? vars.get(name) : m);
  if (c.command) c.command = c.command.map(expand);
  if (c.args) c.args = c.args.map(expand);
}
const urls = [];
for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
  for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    const g = c[kind]?.httpGet;
    if (g) {
      const port = typeof g.port === "string" ? c.ports.find((p) => p.name === g.port).containerPort : g.port;
      urls.push(`${(g.scheme ?? "HTTP").toLowerCase()}://${g.host ?? "127.0.0.1"}:${port}${g.path ?? "/"}`);
    }
    delete c[kind];
  }
}
// In a host-network pod `ports` only document what the node serves; podman
// refuses port mappings without a pod network.
if (spec.hostNetwork) for (const c of spec.containers) delete c.ports;
if (probesFile) writeFileSync(probesFile, [...new Set(urls)].map((u) => `${u}\n`).join(""));

const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: ds.metadata.name,
    namespace: ds.metadata.namespace,
    labels: ds.spec.template.metadata.labels,
    annotations: { "io.podman.annotations.init.container.type": "always" },
  },
  spec,
};
process.stdout.write(`${stringify(cm)}---\n${stringify(pod)}`);
