#!/usr/bin/env python3
"""Creates empty stand-ins for every target the workspace's manifests can
declare, so that `cargo fetch` can load the workspace from its manifests and
Cargo.lock alone (deploy/Dockerfile's dependency layer). Prints the files it
created, one per line; the Dockerfile deletes them right after the fetch, so
none outlives that step and extra ones do no harm.

For the root package and every workspace member: src/lib.rs and src/main.rs
(unless declared elsewhere), and each [lib], [[bin]], [[test]], [[bench]] and
[[example]] at its `path` or at cargo's default for its name.

Usage: cargo-stubs.py [WORKSPACE_ROOT]     (Python 3.11+: tomllib)
"""

import glob
import os
import sys
import tomllib

root = sys.argv[1] if len(sys.argv) > 1 else "."
DEFAULT_DIRS = {"bin": "src/bin", "test": "tests", "bench": "benches", "example": "examples"}


def load(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


workspace = load(os.path.join(root, "Cargo.toml"))
members = ["."]
for pattern in workspace.get("workspace", {}).get("members", []):
    members += sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, pattern))
                      if os.path.isfile(os.path.join(p, "Cargo.toml")))

created = []
for member in members:
    package_dir = os.path.normpath(os.path.join(root, member))
    manifest = load(os.path.join(package_dir, "Cargo.toml"))
    if "package" not in manifest:
        continue  # a virtual root manifest
    paths = {manifest.get("lib", {}).get("path", "src/lib.rs"), "src/main.rs"}
    for kind, directory in DEFAULT_DIRS.items():
        for target in manifest.get(kind, []):
            paths.add(target.get("path") or f"{directory}/{target['name']}.rs")
    for relative in sorted(paths):
        path = os.path.join(package_dir, relative)
        if os.path.exists(path):
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write("fn main() {}\n")
        created.append(os.path.relpath(path, root))
print("\n".join(created))
