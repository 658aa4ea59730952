"""Cross-checks of deploy/k8s/ that a schema cannot make.

Usage: check_k8s.py DIR
kubernetes-validate checks each resource against the API schema; this checks
that they fit together: kustomization.yaml lists every file, selectors match
pod labels, named ports and referenced ConfigMap/Secret keys exist, the
termination grace covers preStop plus the edge's drain, and the Prometheus
scrape configuration (prometheus-halyard.yaml) parses and keeps Halyard's
metrics ports.
"""

import os
import sys

import yaml

EDGE_DRAIN_SECONDS = 30  # edge/src/serve/mod.rs DRAIN_LIMIT
PART_OF = "app.kubernetes.io/part-of"

errors = []


def check(condition, message):
    if not condition:
        errors.append(message)


directory = sys.argv[1]
files = sorted(f for f in os.listdir(directory) if f.endswith((".yaml", ".yml")))
with open(os.path.join(directory, "kustomization.yaml"), encoding="utf-8") as f:
    kustomization = yaml.safe_load(f)
listed = kustomization.get("resources", [])
manifests = [f for f in files if f != "kustomization.yaml"]
check(sorted(listed) == manifests,
      f"kustomization.yaml lists {sorted(listed)}, the directory has {manifests}")
check(len(set(listed)) == len(listed), "kustomization.yaml lists a file twice")
namespace = kustomization.get("namespace")
image_names = {i["name"] for i in kustomization.get("images", [])}

resources = []
for name in manifests:
    with open(os.path.join(directory, name), encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if doc:
                resources.append((name, doc))


def by_kind(kind):
    return [doc for _, doc in resources if doc["kind"] == kind]


def named(kind, name):
    found = [doc for doc in by_kind(kind) if doc["metadata"]["name"] == name]
    return found[0] if found else None


for file, doc in resources:
    meta = doc["metadata"]
    where = f"{file}: {doc['kind']}/{meta['name']}"
    labels = meta.get("labels", {})
    check(labels.get("app.kubernetes.io/name") == "halyard", f"{where}: no app.kubernetes.io/name=halyard")
    check(labels.get(PART_OF) == "halyard", f"{where}: no {PART_OF}=halyard")
    if doc["kind"] == "Namespace":
        check(meta["name"] == namespace, f"{where}: not the kustomization's namespace {namespace}")
    else:
        check(meta.get("namespace") == namespace, f"{where}: namespace {meta.get('namespace')}, expected {namespace}")

configmaps = {doc["metadata"]["name"]: doc.get("data", {}) for doc in by_kind("ConfigMap")}
secrets = {doc["metadata"]["name"]: {**doc.get("stringData", {}), **doc.get("data", {})} for doc in by_kind("Secret")}
service_accounts = {doc["metadata"]["name"] for doc in by_kind("ServiceAccount")}

pod_labels = {}  # deployment name -> pod template labels
edge_token_refs = {}  # "edge" / "control-plane" -> [(container, (Secret, key) of HALYARD_EDGE_TOKEN)]
for deployment in by_kind("Deployment"):
    name = deployment["metadata"]["name"]
    where = f"Deployment/{name}"
    spec = deployment["spec"]
    template = spec["template"]
    labels = template["metadata"]["labels"]
    pod_labels[name] = labels
    selector = spec["selector"]["matchLabels"]
    check(all(labels.get(k) == v for k, v in selector.items()), f"{where}: selector does not match its pods")
    check(labels.get(PART_OF) == "halyard", f"{where}: pods lack {PART_OF}=halyard (Prometheus keeps on it)")
    check("app.kubernetes.io/component" in labels, f"{where}: pods lack app.kubernetes.io/component")
    pod = template["spec"]
    check(pod.get("serviceAccountName") in service_accounts, f"{where}: unknown service account")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{where}: runAsNonRoot is not set")
    annotations = template["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/scrape") == "true", f"{where}: no prometheus.io/scrape annotation")
    volumes = {v["name"] for v in pod.get("volumes", [])}
    for container in pod["containers"]:
        cwhere = f"{where} container {container['name']}"
        check(container["image"].split(":")[0] in image_names,
              f"{cwhere}: image {container['image']} not in kustomization images")
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        check("metrics" in ports, f"{cwhere}: no port named metrics")
        check(str(ports.get("metrics")) == annotations.get("prometheus.io/port"),
              f"{cwhere}: prometheus.io/port {annotations.get('prometheus.io/port')} is not the metrics port {ports.get('metrics')}")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            http = container.get(probe, {}).get("httpGet")
            check(http is not None, f"{cwhere}: no {probe}")
            if http:
                check(http["port"] in ports or http["port"] in ports.values(), f"{cwhere}: {probe} port {http['port']} unknown")
        check(container.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", f"{cwhere}: readiness is not /readyz")
        check(container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", f"{cwhere}: liveness is not /healthz")
        sc = container.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True, f"{cwhere}: root filesystem not read-only")
        check(sc.get("allowPrivilegeEscalation") is False, f"{cwhere}: privilege escalation allowed")
        check("limits" in container.get("resources", {}) and "requests" in container.get("resources", {}),
              f"{cwhere}: resources need requests and limits")
        env_names = set()
        secret_refs = {}  # variable -> (Secret, key)
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef", {}).get("name")
            check(ref in configmaps, f"{cwhere}: envFrom unknown ConfigMap {ref}")
            env_names.update(configmaps.get(ref, {}))
        for env in container.get("env", []):
            env_names.add(env["name"])
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                check(ref["key"] in secrets.get(ref["name"], {}), f"{cwhere}: Secret {ref['name']} has no key {ref['key']}")
                secret_refs[env["name"]] = (ref["name"], ref["key"])
        if container.get("args") in (["edge"], ["control-plane"]):
            edge_token_refs.setdefault(container["args"][0], []).append((cwhere, secret_refs.get("HALYARD_EDGE_TOKEN")))
        for mount in container.get("volumeMounts", []):
            check(mount["name"] in volumes, f"{cwhere}: mounts unknown volume {mount['name']}")
        if container.get("args") == ["edge"]:
            check({"HALYARD_CONTROL_PLANE_URL", "HALYARD_EDGE_TOKEN"} <= env_names,
                  f"{cwhere}: the control plane URL and the edge token go together")
            snapshot_dir = next((d.get("HALYARD_EDGE_SNAPSHOT_DIR") for d in configmaps.values() if "HALYARD_EDGE_SNAPSHOT_DIR" in d), None)
            check(any(m["mountPath"] == snapshot_dir for m in container.get("volumeMounts", [])),
                  f"{cwhere}: nothing writable mounted at HALYARD_EDGE_SNAPSHOT_DIR {snapshot_dir}")
            pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
            sleep = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
            check(sleep > 0, f"{cwhere}: no preStop sleep")
            grace = pod.get("terminationGracePeriodSeconds", 30)
            check(grace > sleep + EDGE_DRAIN_SECONDS,
                  f"{cwhere}: terminationGracePeriodSeconds {grace} <= preStop {sleep} s + drain {EDGE_DRAIN_SECONDS} s")
            check(bool(pod.get("topologySpreadConstraints") or pod.get("affinity", {}).get("podAntiAffinity")),
                  f"{where}: edges are not spread")

# The edge token is one shared value: the control plane accepts what the
# edges present, so both read HALYARD_EDGE_TOKEN from the same Secret key.
check(set(edge_token_refs) == {"edge", "control-plane"},
      f"expected control-plane and edge containers, found {sorted(edge_token_refs)}")
token_sources = {ref for refs in edge_token_refs.values() for _, ref in refs}
for role, refs in edge_token_refs.items():
    for cwhere, ref in refs:
        check(ref is not None, f"{cwhere}: HALYARD_EDGE_TOKEN not read from a Secret")
check(len(token_sources) == 1,
      f"the control plane and the edges read HALYARD_EDGE_TOKEN from different places: {sorted(map(str, token_sources))}")


def selects(selector):
    return [name for name, labels in pod_labels.items() if all(labels.get(k) == v for k, v in selector.items())]


for service in by_kind("Service"):
    where = f"Service/{service['metadata']['name']}"
    targets = selects(service["spec"]["selector"])
    check(len(targets) == 1, f"{where}: selects {targets}")
    for target in targets:
        deployment = named("Deployment", target)
        names = {p["name"] for c in deployment["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            check(port["targetPort"] in names, f"{where}: targetPort {port['targetPort']} is not a port of {target}")

for pdb in by_kind("PodDisruptionBudget"):
    targets = selects(pdb["spec"]["selector"]["matchLabels"])
    check(len(targets) == 1, f"PodDisruptionBudget/{pdb['metadata']['name']}: selects {targets}")

for hpa in by_kind("HorizontalPodAutoscaler"):
    ref = hpa["spec"]["scaleTargetRef"]
    target = named(ref["kind"], ref["name"])
    check(target is not None, f"HorizontalPodAutoscaler/{hpa['metadata']['name']}: no {ref['kind']}/{ref['name']}")
    if target is not None:
        check("replicas" not in target["spec"],
              f"{ref['kind']}/{ref['name']}: spec.replicas fights the HorizontalPodAutoscaler")

# The Prometheus scrape configuration embedded in its ConfigMap.
scrape = configmaps.get("prometheus-halyard", {}).get("prometheus.yml")
check(scrape is not None, "no ConfigMap prometheus-halyard with a prometheus.yml")
jobs = []
if scrape is not None:
    prometheus = yaml.safe_load(scrape)
    jobs = [job for job in prometheus.get("scrape_configs", []) if job.get("job_name") == "halyard"]
    check(len(jobs) == 1, "prometheus.yml: no scrape_configs job `halyard`")
    for job in jobs:
        check(job.get("metrics_path", "/metrics") == "/metrics", "prometheus.yml: metrics_path is not /metrics")
        check([sd.get("role") for sd in job.get("kubernetes_sd_configs", [])] == ["pod"],
              "prometheus.yml: not kubernetes_sd_configs role: pod")
        keeps = {(tuple(r.get("source_labels", [])), r.get("regex")) for r in job.get("relabel_configs", []) if r.get("action") == "keep"}
        check((("__meta_kubernetes_pod_label_app_kubernetes_io_part_of",), "halyard") in keeps,
              "prometheus.yml: does not keep app.kubernetes.io/part-of=halyard")
        check((("__meta_kubernetes_pod_container_port_name",), "metrics") in keeps,
              "prometheus.yml: does not keep the port named metrics")

if errors:
    for e in errors:
        print(f"k8s: {e}", file=sys.stderr)
    sys.exit(1)
print(f"k8s cross-checks: {len(resources)} resources in {len(manifests)} files fit together; "
      f"prometheus.yml parses with job `halyard`")
