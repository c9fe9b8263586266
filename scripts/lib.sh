# Shared shell helpers, sourced by every script in scripts/ (and .ci/run):
#   . "$(dirname "$0")/lib.sh"
# It sources versions.env, so every script sees the pinned tool versions. Nothing here
# installs anything on its own: apt_install, pip_install and cargo_install are meant for
# scripts/setup.sh, the one script that installs; other scripts use `require` to fail
# with the command that would fix it.
# shellcheck shell=bash

SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPTS_DIR/.." && pwd)
# shellcheck source=versions.env
. "$SCRIPTS_DIR/versions.env"

# The calling script's name, for messages: "build-lambdas: ...".
SCRIPT_NAME=$(basename "${0%.sh}")

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }
die() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

# require CMD [SETUP_GROUP]: fail naming the set-up command when CMD is not on PATH.
require() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is missing; run: bash scripts/setup.sh ${2:-}"
}

# require_version "COMMAND ..." PATTERN [SETUP_GROUP]: fail unless COMMAND's output matches
# PATTERN (a pinned version), naming the set-up command.
require_version() {
  local out
  out=$(bash -c "$1" 2>/dev/null || true)
  printf '%s' "$out" | grep -q -- "$2" \
    || die "\`$1\` says '${out:-nothing}', expected $2; run: bash scripts/setup.sh ${3:-}"
}

# The local PostgreSQL (127.0.0.1:5432, trust, user postgres): start the Debian cluster if it
# is down and wait until it accepts connections.
start_postgres() {
  export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432}
  pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null && return 0
  command -v pg_ctlcluster >/dev/null 2>&1 || die "PostgreSQL is not installed; run: apt-get install postgresql"
  say "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  local _
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && return 0; sleep 1; done
  die "PostgreSQL did not start on $PGHOST:$PGPORT; see /var/log/postgresql"
}

# The local MariaDB (127.0.0.1:3306, root, no password; the `mysql` feature's tests): start it
# if it is down and wait until it answers.
start_mariadb() {
  mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 && return 0
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || die "MariaDB is not installed; run: apt-get install mariadb-server"
  say "MariaDB is down; starting it"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  local _
  for _ in $(seq 1 30); do
    mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "MariaDB did not start on 127.0.0.1:3306"
}

# apt_install PKG...: install the Debian packages that are missing (root, or sudo).
apt_install() {
  local missing=() pkg sudo=""
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}; install them: apt-get install ${missing[*]}"
    sudo=sudo
  fi
  say "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# pip_install SPEC [WHY]: pip install one pinned requirement into the user's Python.
pip_install() {
  say "pip install $1${2:+ ($2)}"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$1" \
    || die "could not install $1; run: python3 -m pip install '$1'"
  hash -r
}

# cargo_install CRATE VERSION [WHY] [EXTRA ARGS...]: cargo install --locked at a pinned version.
cargo_install() {
  local crate=$1 version=$2 why=${3:-}
  shift 3 || shift $#
  say "cargo install $crate $version${why:+ ($why)}"
  cargo install --locked --quiet "$crate" --version "$version" "$@" \
    || die "could not install $crate $version; run: cargo install --locked $crate --version $version $*"
  hash -r
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# workspace_metadata [MANIFEST]: `cargo metadata` (no dependencies) of the workspace as JSON.
workspace_metadata() {
  cargo metadata --format-version 1 --no-deps --locked --manifest-path "${1:-$REPO_ROOT/Cargo.toml}"
}

# published_crates [MANIFEST]: "name version manifest_path" of every workspace package whose
# `publish` is not false, dependencies before their dependents (path dependencies between
# workspace members decide the order).
published_crates() {
  workspace_metadata "${1:-}" | python3 -c '
import json, sys
meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
pkgs = {p["name"]: p for p in meta["packages"] if p["id"] in members and p.get("publish") != []}
order, seen = [], set()
def visit(name):
    if name in seen:
        return
    seen.add(name)
    for dep in pkgs[name]["dependencies"]:
        if dep["name"] in pkgs and dep["name"] != name and dep.get("kind") != "dev":
            visit(dep["name"])
    order.append(name)
for name in sorted(pkgs):
    visit(name)
for name in order:
    p = pkgs[name]
    print(p["name"], p["version"], p["manifest_path"])
'
}

# tag_prefix CRATE: the release-tag prefix of a published crate (schema-vX.Y.Z, kit-vX.Y.Z, …).
tag_prefix() {
  case "$1" in
    bookstore-schema) echo schema ;;
    bookstore-*) echo "${1#bookstore-}" ;;
    *) echo "$1" ;;
  esac
}

# require_history: the release scripts read releases from git history; a shallow clone
# would silently have none.
require_history() {
  [ "$(git -C "$REPO_ROOT" rev-parse --is-shallow-repository)" = false ] \
    || die "this clone is shallow: releases are found from history; run: git fetch --unshallow"
}

# version_changes MANIFEST_RELATIVE_PATH: "commit version" for every commit (on the mainline,
# first-parent history of
# HEAD, newest first) that changed the manifest's [package] version, to that version. This is
# how the scripts find releases without tags: CI's clone may have none.
version_changes() {
  local manifest=$1 commit v parent_v
  while read -r commit; do
    v=$(manifest_version "$commit" "$manifest")
    [ -n "$v" ] || continue
    parent_v=$(manifest_version "$commit^" "$manifest")
    [ "$v" = "$parent_v" ] || echo "$commit $v"
  done < <(git -C "$REPO_ROOT" log --first-parent -m --format=%H -G '^version *=' -- "$manifest")
}

# RELEASES: the record of releases, "crate version commit" a line (see the file).
RELEASES="$SCRIPTS_DIR/releases.txt"

# recorded_release CRATE VERSION: the commit recorded as that release (empty when none).
recorded_release() {
  [ -f "$RELEASES" ] || return 0
  awk -v c="$1" -v v="$2" '$1 == c && $2 == v { print $3; exit }' "$RELEASES"
}

# recorded_releases CRATE: "commit version" of each recorded release of CRATE.
recorded_releases() {
  [ -f "$RELEASES" ] || return 0
  awk -v c="$1" '$1 == c { print $3, $2 }' "$RELEASES"
}

# release_commit MANIFEST_RELATIVE_PATH VERSION [CRATE]: the release of VERSION: the recorded
# commit when CRATE is given and the version is recorded, else the commit that last changed
# the version to VERSION (empty when none did).
release_commit() {
  local recorded=""
  [ -z "${3:-}" ] || recorded=$(recorded_release "$3" "$2")
  if [ -n "$recorded" ]; then echo "$recorded"; return 0; fi
  version_changes "$1" | awk -v v="$2" '$2 == v && !found { print $1; found = 1 }'
}

# previous_release MANIFEST_RELATIVE_PATH VERSION [CRATE]: "commit X" for the highest version X
# below VERSION that was released (recorded for CRATE, or else set in the manifest's history),
# with its release commit; nothing when the crate has no earlier release.
previous_release() {
  local current=$2
  { [ -z "${3:-}" ] || recorded_releases "$3"; version_changes "$1"; } | python3 -c '
import sys
def key(v):
    core, _, pre = v.partition("-")
    return tuple(int(x) for x in core.split(".")), pre == "", pre
current = key(sys.argv[1])
best = None
for line in sys.stdin:
    commit, v = line.split()
    if key(v) < current and (best is None or key(v) > key(best[1])):
        best = (commit, v)
if best:
    print(*best)
' "$current"
}

# manifest_version COMMIT MANIFEST_RELATIVE_PATH: the [package] version of that manifest at
# that commit (empty when the file did not exist).
manifest_version() {
  { git -C "$REPO_ROOT" show "$1:$2" 2>/dev/null || true; } \
    | sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' | sed -n 1p
}

# parse_lambda_args ARGS...: the arguments build-lambdas.sh and check-artifacts.sh share, so
# a team outside this repository runs both with the same ones:
#   --manifest-path PATH   the Cargo.toml to build (default: this workspace's)
#   -p, --package PKG      the package of the --bin options that follow it; alone, all its binaries
#   --bin NAME             one Lambda binary (repeatable)
#   --features LIST        features of the package named before it (cargo --features)
#   --out DIR              where <bin>/bootstrap.zip go (default: <target dir>/lambda)
#   --mysql                the MySQL build (LAMBDA_MYSQL=1): MySQL's client library is C++,
#                          linked with libstdc++ statically; for this workspace it also
#                          turns on the `mysql` feature of its packages, and the default
#                          --out is <target dir>/lambda-mysql
# With none of -p/--bin: this workspace's three functions, or every binary of the
# manifest's own package. Sets LAMBDA_MANIFEST, LAMBDA_OUT, LAMBDA_TARGET_DIR, LAMBDA_MYSQL and
# LAMBDA_BUILDS: one "package<TAB>features or -<TAB>bin bin ..." line per package (one cargo
# build each, so that one package's features never leak into another's binaries).
parse_lambda_args() {
  local manifest="$REPO_ROOT/Cargo.toml" out="" specs=() pkg=""
  LAMBDA_MYSQL=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --manifest-path) manifest=${2:?--manifest-path needs a path}; shift 2 ;;
      -p|--package) pkg=${2:?$1 needs a package name}; specs+=("pkg $pkg"); shift 2 ;;
      --bin) specs+=("bin ${pkg:--} ${2:?--bin needs a binary name}"); shift 2 ;;
      --features) [ -n "$pkg" ] || die "--features must follow -p PACKAGE"; specs+=("features $pkg ${2:?--features needs a list}"); shift 2 ;;
      --out) out=${2:?--out needs a directory}; shift 2 ;;
      --mysql) LAMBDA_MYSQL=1; shift ;;
      -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
  done
  [ -f "$manifest" ] || die "no Cargo.toml at $manifest"
  LAMBDA_MANIFEST=$(cd "$(dirname "$manifest")" && pwd)/$(basename "$manifest")
  if [ ${#specs[@]} -eq 0 ] && [ "$LAMBDA_MANIFEST" = "$REPO_ROOT/Cargo.toml" ]; then
    specs=("pkg schema-lambda" "bin schema-lambda schema-lambda" "pkg bookstore-functions" "bin bookstore-functions books" "bin bookstore-functions reviews")
    if [ "$LAMBDA_MYSQL" = 1 ]; then
      specs+=("features schema-lambda mysql" "features bookstore-functions mysql")
    fi
  fi
  local plan
  plan=$(cargo metadata --format-version 1 --no-deps --manifest-path "$LAMBDA_MANIFEST" | python3 -c '
import json, sys
meta = json.load(sys.stdin)
manifest, specs = sys.argv[1], sys.argv[2:]
members = [p for p in meta["packages"] if p["id"] in set(meta["workspace_members"])]
bins = {p["name"]: [t["name"] for t in p["targets"] if "bin" in t["kind"]] for p in members}
def fail(msg):
    print("ERROR " + msg); sys.exit(0)
order, chosen, feats = [], {}, {}
def add(pkg, b=None):
    if pkg not in bins:
        fail("no package %s in %s" % (pkg, manifest))
    if pkg not in chosen:
        order.append(pkg); chosen[pkg] = []
    if b is not None:
        if b not in bins[pkg]:
            fail("package %s has no binary %s (it has: %s)" % (pkg, b, ", ".join(bins[pkg]) or "none"))
        if b not in chosen[pkg]:
            chosen[pkg].append(b)
for spec in specs:
    kind, rest = spec.split(" ", 1)
    if kind == "pkg":
        add(rest)
    elif kind == "features":
        pkg, f = rest.split(" ", 1); feats[pkg] = f
    else:
        pkg, b = rest.split(" ", 1)
        if pkg == "-":
            owners = [p for p, bs in bins.items() if b in bs]
            if len(owners) != 1:
                fail("binary %s is in %s; name its package with -p" % (b, ", ".join(owners) or "no package"))
            pkg = owners[0]
        add(pkg, b)
if not order:
    own = [p for p in members if p["manifest_path"] == manifest]
    if not own:
        fail("%s is a virtual workspace: name the package (-p) or the binaries (--bin)" % manifest)
    add(own[0]["name"])
print("TARGET " + meta["target_directory"])
for pkg in order:
    bs = chosen[pkg] or bins[pkg]
    if not bs:
        fail("package %s has no binary" % pkg)
    print("BUILD %s\t%s\t%s" % (pkg, feats.get(pkg, "-"), " ".join(bs)))
' "$LAMBDA_MANIFEST" "${specs[@]}") || die "cargo metadata failed for $LAMBDA_MANIFEST"
  if grep -q '^ERROR ' <<<"$plan"; then die "$(sed -n 's/^ERROR //p' <<<"$plan")"; fi
  LAMBDA_TARGET_DIR=$(sed -n 's/^TARGET //p' <<<"$plan")
  LAMBDA_BUILDS=$(sed -n 's/^BUILD //p' <<<"$plan")
  local default_out=$LAMBDA_TARGET_DIR/lambda
  [ "$LAMBDA_MYSQL" = 0 ] || default_out=$LAMBDA_TARGET_DIR/lambda-mysql
  LAMBDA_OUT=${out:-$default_out}
  mkdir -p "$LAMBDA_OUT"
  LAMBDA_OUT=$(cd "$LAMBDA_OUT" && pwd)
}

# lambda_bins: every binary of LAMBDA_BUILDS, one a line.
lambda_bins() { cut -f3 <<<"$LAMBDA_BUILDS" | tr ' ' '\n' | grep -v '^$'; }

# refresh_our_crates DIR: the outside app's lock file (DIR/Cargo.lock) pins its third-party
# crates; ours come from wherever it is pointed now (another registry URL, a git tag; their
# checksums change with every build), so their entries (and the patched diesel's) are dropped
# and resolved again, and nothing else moves.
refresh_our_crates() {
  python3 - "$1/Cargo.lock" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
blocks = text.split("\n[[package]]\n")
ours = re.compile(r'^name = "(bookstore-(schema|kit|credentials|testing)|diesel)"$', re.M)
kept = [b for b in blocks if not ours.search(b)]
open(path, "w").write("\n[[package]]\n".join(kept))
print(f"{path}: {len(blocks) - len(kept)} of our crates' lock entries resolved afresh")
PY
}
