"""Static checks of deploy/Dockerfile against the workspace it builds
(the image cannot be built on a machine without a Docker engine).

Usage: check_dockerfile.py REPO_ROOT
  - every workspace manifest is copied before `cargo fetch`, and replaying
    that layer (those manifests alone, then deploy/cargo-stubs.py) leaves a
    stand-in for every target of the real tree;
  - the Rust and Node.js versions meet the workspace's rust-version and the
    dashboard's engines.node;
  - Dockerfile.dockerignore keeps out target/, node_modules/, .git and
    halyard-data/, and nothing the build reads;
  - the runtime stage: non-root numeric USER, the four ports, the entrypoint.
"""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

root = sys.argv[1]
dockerfile = open(os.path.join(root, "deploy/Dockerfile"), encoding="utf-8").read()
ignore = [l.strip() for l in open(os.path.join(root, "deploy/Dockerfile.dockerignore"), encoding="utf-8")
          if l.strip() and not l.startswith("#")]
errors = []


def check(condition, message):
    if not condition:
        errors.append(message)


def version(text):
    return tuple(int(x) for x in re.findall(r"\d+", text)[:2])


# Workspace manifests and their targets.
with open(os.path.join(root, "Cargo.toml"), "rb") as f:
    workspace = tomllib.load(f)
members = workspace["workspace"]["members"]
targets = set()
for member in ["."] + members:
    with open(os.path.join(root, member, "Cargo.toml"), "rb") as f:
        manifest = tomllib.load(f)
    prefix = "" if member == "." else member + "/"
    if member == ".":
        check("COPY Cargo.toml Cargo.lock ./" in dockerfile, "the root Cargo.toml and Cargo.lock are not copied first")
    else:
        check(f"COPY {member}/Cargo.toml {member}/" in dockerfile, f"{member}/Cargo.toml is not copied before cargo fetch")
    lib = manifest.get("lib", {}).get("path")
    if lib:
        targets.add(prefix + lib)
    for default in ("src/lib.rs", "src/main.rs"):
        if os.path.exists(os.path.join(root, prefix + default)):
            targets.add(prefix + default)
    for kind, directory in (("bin", "src/bin"), ("test", "tests"), ("bench", "benches"), ("example", "examples")):
        for target in manifest.get(kind, []):
            targets.add(prefix + (target.get("path") or f"{directory}/{target['name']}.rs"))
# Replay the dependency layer: only the manifests the Dockerfile copies,
# then deploy/cargo-stubs.py, as in the image; every target cargo will look
# for must then exist.
copied = re.findall(r"^COPY ((?:[\w-]+/)?Cargo\.toml)", dockerfile, re.M)
with tempfile.TemporaryDirectory() as layer:
    for manifest_path in copied:
        os.makedirs(os.path.join(layer, os.path.dirname(manifest_path)), exist_ok=True)
        shutil.copy(os.path.join(root, manifest_path), os.path.join(layer, manifest_path))
    stubs = subprocess.run([sys.executable, os.path.join(root, "deploy/cargo-stubs.py"), layer],
                           check=True, capture_output=True, text=True).stdout.split()
check(not (targets - set(stubs)), f"targets without a stand-in before cargo fetch: {sorted(targets - set(stubs))}")
check("COPY --chmod=0755 deploy/cargo-stubs.py /usr/local/bin/cargo-stubs" in dockerfile,
      "deploy/cargo-stubs.py is not copied into the builder")
check(re.search(r"cargo-stubs \. > /tmp/stubs \\\n && cargo fetch --locked \\\n && xargs rm -f < /tmp/stubs", dockerfile),
      "the stand-ins are not created, fetched against and deleted in one step")
check("cargo fetch --locked" in dockerfile, "no `cargo fetch --locked`")
check("cargo build --release --locked --bin halyard" in dockerfile, "no `cargo build --release --locked --bin halyard`")
check("target=/src/target" in dockerfile and "target=/usr/local/cargo/registry" in dockerfile,
      "no cache mounts for target/ and the cargo registry")

# Toolchain versions.
rust = re.search(r"^ARG RUST_VERSION=(\S+)", dockerfile, re.M)
node = re.search(r"^ARG NODE_VERSION=(\S+)", dockerfile, re.M)
rust_needed = workspace["workspace"]["package"]["rust-version"]
check(rust and version(rust.group(1)) >= version(rust_needed), f"RUST_VERSION below the workspace's {rust_needed}")
engines = json.load(open(os.path.join(root, "dashboard/package.json"), encoding="utf-8"))["engines"]["node"]
check(node and version(node.group(1)) >= version(engines), f"NODE_VERSION below the dashboard's {engines}")
check(re.search(r"^FROM rust:\$\{RUST_VERSION\}", dockerfile, re.M), "the builder is not the official rust image")

# The build context.
def matches(path, pattern):
    parts = path.split("/")
    pattern = pattern.rstrip("/")
    for depth in range(1, len(parts) + 1):
        candidate = "/".join(parts[:depth])
        if fnmatch.fnmatchcase(candidate, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatchcase(parts[depth - 1], pattern[3:])):
            return True
    return False


def ignored(path):
    """Docker's rule: the last matching pattern decides (`!` re-includes)."""
    result = False
    for pattern in ignore:
        if pattern.startswith("!"):
            if matches(path, pattern[1:]):
                result = False
        elif matches(path, pattern):
            result = True
    return result


for path in ["target/release/halyard", "node_modules/x", "dashboard/node_modules/x", ".git/HEAD", "halyard-data/halyard.sqlite3"]:
    check(ignored(path), f"the build context would include {path}")
needed = ["Cargo.toml", "Cargo.lock", "control-plane/build.rs", "dashboard/package-lock.json", "deploy/cargo-stubs.py"]
needed += sorted(targets)
for directory in ["migrations", "dashboard/src", "control-plane/src", "edge/src", "common/src", "common/tests"]:
    for base, _, files in os.walk(os.path.join(root, directory)):
        needed += [os.path.relpath(os.path.join(base, f), root) for f in files]
for path in needed:
    check(not ignored(path), f"Dockerfile.dockerignore keeps {path} out of the build")

# The runtime stage.
runtime = dockerfile.rsplit("\nFROM ", 1)[-1]
user = re.search(r"^USER (\d+)(?::(\d+))?$", runtime, re.M)
check(user and int(user.group(1)) != 0, "the runtime stage has no numeric non-root USER")
check(re.search(r"^EXPOSE 8080 8081 9090 9091$", runtime, re.M), "EXPOSE 8080 8081 9090 9091 missing")
check('ENTRYPOINT ["halyard"]' in runtime, 'ENTRYPOINT ["halyard"] missing')
check("ca-certificates" in runtime, "no ca-certificates in the runtime image")

if errors:
    for e in errors:
        print(f"Dockerfile: {e}", file=sys.stderr)
    sys.exit(1)
print(f"Dockerfile checks: {len(copied)} manifests and stand-ins for all {len(targets)} targets before cargo fetch, "
      f"Rust {rust.group(1)} >= {rust_needed}, Node {node.group(1)} ({engines}), "
      f"context excludes target/node_modules/.git/halyard-data and keeps {len(needed)} needed files")
