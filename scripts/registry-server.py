#!/usr/bin/env python3
"""A private Cargo registry for CI: cargo's sparse index and publish API over HTTP on 127.0.0.1.

Run by scripts/registry.sh; standard library only, so it starts in a second on any machine
with python3. What it does is what the hosted registries (CodeArtifact, crates.io) do for
the parts CI relies on:

  GET  /index/config.json                          index configuration (dl, api)
  GET  /index/<prefix>/<name>                      the crate's index file (sparse protocol)
  PUT  /api/v1/crates/new                          publish (needs the token)
  GET  /api/v1/crates/<name>/<version>/download    the .crate

Publishing needs the token (Authorization header), and a version that exists is refused
(HTTP 409): versions are immutable. Names compare as cargo does (case-insensitive, `-` and
`_` equal). Yank, owners and search are not implemented (404).

Why our own and not kellnr/ktra/cargo-http-registry: see docs/release.md.
"""

import argparse
import hashlib
import json
import os
import re
import struct
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, HTTPServer

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
MAX_BODY = 20 * 1024 * 1024


def index_path(name):
    """The sparse index path of a crate (cargo's layout), lower-cased."""
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def canonical(name):
    return name.lower().replace("_", "-")


def strip_build(version):
    return version.split("+", 1)[0]


class Registry:
    def __init__(self, root, token, base_url):
        self.root = root
        self.token = token
        self.base_url = base_url
        os.makedirs(os.path.join(root, "index"), exist_ok=True)
        os.makedirs(os.path.join(root, "crates"), exist_ok=True)

    def config(self):
        return {"dl": f"{self.base_url}/api/v1/crates", "api": self.base_url, "auth-required": False}

    def index_file(self, name):
        return os.path.join(self.root, "index", index_path(name))

    def entries(self, name):
        try:
            with open(self.index_file(name), encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def crate_file(self, name, version):
        return os.path.join(self.root, "crates", name.lower(), f"{name.lower()}-{version}.crate")

    def publish(self, meta, data):
        """Adds one version; returns (status, body)."""
        name, vers = meta.get("name", ""), meta.get("vers", "")
        if not NAME_RE.match(name):
            return 400, error(f"invalid crate name `{name[:64]}`")
        if not VERSION_RE.match(vers):
            return 400, error(f"invalid version `{vers[:64]}` of crate `{name}`")
        existing = self.entries(name)
        if existing and existing[0]["name"] != name and canonical(existing[0]["name"]) == canonical(name):
            return 409, error(f"crate `{name}` conflicts with the existing crate `{existing[0]['name']}`")
        for other in os.listdir(os.path.join(self.root, "crates")):
            if other != name.lower() and canonical(other) == canonical(name):
                return 409, error(f"crate `{name}` conflicts with the existing crate `{other}`")
        if any(strip_build(e["vers"]) == strip_build(vers) for e in existing):
            return 409, error(
                f"crate `{name}` version `{vers}` already exists in this registry; "
                "published versions are immutable: bump the version to publish again"
            )
        features, features2 = {}, {}
        for feature, values in (meta.get("features") or {}).items():
            target = features2 if any(v.startswith("dep:") or "?/" in v for v in values) else features
            target[feature] = values
        deps = []
        for d in meta.get("deps") or []:
            dep = {
                "name": d.get("explicit_name_in_toml") or d["name"],
                "req": d["version_req"],
                "features": d.get("features") or [],
                "optional": bool(d.get("optional")),
                "default_features": d.get("default_features", True),
                "target": d.get("target"),
                "kind": d.get("kind") or "normal",
                "registry": d.get("registry"),
            }
            if d.get("explicit_name_in_toml"):
                dep["package"] = d["name"]
            deps.append(dep)
        entry = {
            "name": name,
            "vers": vers,
            "deps": deps,
            "cksum": hashlib.sha256(data).hexdigest(),
            "features": features,
            "yanked": False,
            "links": meta.get("links"),
        }
        if features2:
            entry["features2"] = features2
            entry["v"] = 2
        if meta.get("rust_version"):
            entry["rust_version"] = meta["rust_version"]
        crate_file = self.crate_file(name, vers)
        os.makedirs(os.path.dirname(crate_file), exist_ok=True)
        write_atomic(crate_file, data)
        index_file = self.index_file(name)
        os.makedirs(os.path.dirname(index_file), exist_ok=True)
        lines = [json.dumps(e, separators=(",", ":")) for e in existing + [entry]]
        write_atomic(index_file, ("\n".join(lines) + "\n").encode())
        return 200, {"warnings": {"invalid_categories": [], "invalid_badges": [], "other": []}}


def write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def error(detail):
    return {"errors": [{"detail": detail}]}


class Handler(BaseHTTPRequestHandler):
    registry = None
    server_version = "bookstore-registry/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("registry: %s %s\n" % (self.address_string(), fmt % args))

    def send_json(self, status, body):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def send_bytes(self, data, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        reg = self.registry
        path = self.path.split("?", 1)[0]
        if path == "/index/config.json":
            return self.send_json(200, reg.config())
        if path.startswith("/index/"):
            name = path.rsplit("/", 1)[-1]
            if NAME_RE.match(name) and "/index/" + index_path(name) == path.lower():
                try:
                    with open(reg.index_file(name), "rb") as f:
                        return self.send_bytes(f.read(), "text/plain")
                except FileNotFoundError:
                    pass
            return self.send_json(404, error("not found"))
        m = re.match(r"^/api/v1/crates/([^/]+)/([^/]+)/download$", path)
        if m:
            name, vers = m.groups()
            if NAME_RE.match(name) and VERSION_RE.match(vers):
                try:
                    with open(reg.crate_file(name, vers), "rb") as f:
                        return self.send_bytes(f.read(), "application/x-tar")
                except FileNotFoundError:
                    pass
            return self.send_json(404, error(f"no crate {name[:64]} {vers[:64]}"))
        return self.send_json(404, error("not found"))

    def do_PUT(self):
        if self.path.split("?", 1)[0] != "/api/v1/crates/new":
            return self.send_json(404, error("not found"))
        if self.headers.get("Authorization", "") != self.registry.token:
            return self.send_json(403, error("publishing needs this registry's token"))
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 8 or length > MAX_BODY:
            return self.send_json(400, error(f"publish body of {length} bytes"))
        body = self.rfile.read(length)
        try:
            (json_len,) = struct.unpack_from("<I", body, 0)
            meta = json.loads(body[4 : 4 + json_len])
            (crate_len,) = struct.unpack_from("<I", body, 4 + json_len)
            data = body[8 + json_len : 8 + json_len + crate_len]
            if len(data) != crate_len:
                raise ValueError("truncated .crate")
        except (struct.error, ValueError) as e:
            return self.send_json(400, error(f"malformed publish body: {e}"))
        status, answer = self.registry.publish(meta, data)
        return self.send_json(status, answer)

    def do_DELETE(self):
        return self.send_json(404, error("yank is not supported by this registry"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="directory for the index and the .crate files")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-file", required=True, help="file holding the publish token")
    args = parser.parse_args()
    with open(args.token_file, encoding="utf-8") as f:
        token = f.read().strip()
    if not token:
        sys.exit("registry: the token file is empty")
    Handler.registry = Registry(args.root, token, f"http://127.0.0.1:{args.port}")
    server = HTTPServer(("127.0.0.1", args.port), Handler)
    print(f"registry: listening on http://127.0.0.1:{args.port}/ (index /index/)", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
