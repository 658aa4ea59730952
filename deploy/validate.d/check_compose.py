"""Structural checks on `docker-compose config` output (the resolved file).

Usage: check_compose.py RESOLVED.yml
docker-compose has already checked the schema; this checks what the schema
cannot: the topology deploy/README.md describes.
"""

import sys

import yaml

errors = []


def check(condition, message):
    if not condition:
        errors.append(message)


with open(sys.argv[1], encoding="utf-8") as f:
    config = yaml.safe_load(f)
services = config["services"]

expected = {"postgres", "redis", "migrate", "control-plane", "edge-1", "edge-2", "edge-3", "nginx"}
check(set(services) == expected, f"services are {sorted(services)}, expected {sorted(expected)}")

halyard = ["migrate", "control-plane", "edge-1", "edge-2", "edge-3"]
images = {services[name].get("image") for name in halyard if name in services}
check(len(images) == 1, f"the halyard services use several images: {images}")
for name in halyard:
    service = services.get(name, {})
    build = service.get("build", {})
    check(str(build.get("dockerfile", "")).endswith("deploy/Dockerfile"), f"{name}: not built from deploy/Dockerfile")
    check(service.get("read_only") is True, f"{name}: root filesystem not read-only")

commands = {name: services.get(name, {}).get("command") for name in halyard}
check(commands["migrate"] == ["migrate"], f"migrate runs {commands['migrate']}")
check(commands["control-plane"] == ["control-plane"], f"control-plane runs {commands['control-plane']}")

# Healthchecks on every long-running service.
for name in expected - {"migrate"}:
    test = services.get(name, {}).get("healthcheck", {}).get("test")
    check(bool(test), f"{name}: no healthcheck")

# Ports: the control plane and nginx only.
published = {name for name, s in services.items() if s.get("ports")}
check(published == {"control-plane", "nginx"}, f"published ports on {sorted(published)}")

cp = services.get("control-plane", {})
cp_env = cp.get("environment", {})
for var in ("HALYARD_DATABASE_URL", "HALYARD_REDIS_URL", "HALYARD_ADMIN_API_KEY", "HALYARD_EDGE_TOKEN"):
    check(cp_env.get(var), f"control-plane: {var} unset")
check(cp.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy",
      "control-plane does not wait for a healthy postgres")
check(cp.get("depends_on", {}).get("migrate", {}).get("condition") == "service_completed_successfully",
      "control-plane does not wait for migrate")

volumes = set()
for n in (1, 2, 3):
    edge = services.get(f"edge-{n}", {})
    env = edge.get("environment", {})
    check(env.get("HALYARD_CONTROL_PLANE_URL") == "http://control-plane:8080", f"edge-{n}: control plane URL")
    check(bool(env.get("HALYARD_EDGE_TOKEN")), f"edge-{n}: HALYARD_EDGE_TOKEN unset (goes with the URL)")
    # One shared value: the control plane accepts the token the edges present.
    check(env.get("HALYARD_EDGE_TOKEN") == cp_env.get("HALYARD_EDGE_TOKEN"),
          f"edge-{n}: HALYARD_EDGE_TOKEN is not the control plane's")
    check(bool(env.get("HALYARD_REDIS_URL")), f"edge-{n}: HALYARD_REDIS_URL unset")
    snapshot_dir = env.get("HALYARD_EDGE_SNAPSHOT_DIR")
    mounts = [str(v) for v in edge.get("volumes", [])]
    mine = [m for m in mounts if snapshot_dir and f":{snapshot_dir}" in m]
    check(len(mine) == 1, f"edge-{n}: no volume on its snapshot dir {snapshot_dir}")
    volumes.update(m.split(":", 1)[0] for m in mine)
check(len(volumes) == 3, f"the edges share snapshot volumes: {sorted(volumes)}")

nginx_mounts = [str(v) for v in services.get("nginx", {}).get("volumes", [])]
check(any(m.endswith("/deploy/nginx/halyard.conf:/etc/nginx/conf.d/default.conf:ro") for m in nginx_mounts),
      f"nginx does not mount deploy/nginx/halyard.conf: {nginx_mounts}")

redis_command = " ".join(services.get("redis", {}).get("command", []))
check("--appendonly no" in redis_command and "--save" in redis_command, f"redis persists: {redis_command}")

if errors:
    for e in errors:
        print(f"compose: {e}", file=sys.stderr)
    sys.exit(1)
print(f"compose structure: {len(services)} services as documented")
