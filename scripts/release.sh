#!/usr/bin/env bash
# Release tags for the published crates (every workspace package whose `publish` is not
# false): `<prefix>-vX.Y.Z`, prefix `schema` for bookstore-schema, else the name without
# `bookstore-` (kit, credentials, testing).
#
#   bash scripts/release.sh CRATE
#       Releases the crate's current version at HEAD: checks that Cargo.toml, the top entry
#       of CHANGELOG.md and any existing tag agree, records "CRATE X.Y.Z <HEAD>" in
#       scripts/releases.txt (commit that record), and creates the annotated tag at HEAD.
#       Push the tag yourself: git push origin <tag>.
#   bash scripts/release.sh CRATE --version X.Y.Z
#       Tags an earlier release at its recorded commit (or, for one never recorded, the
#       commit that changed the version to X.Y.Z).
#   bash scripts/release.sh --check
#       CI: for every published crate, every version its manifest ever had (from history)
#       has a CHANGELOG entry and its tag points at the commit that set it, or, where the
#       clone has no tag, that commit is found from history; no `<prefix>-v*` tag names a
#       version the crate never had; the top CHANGELOG entry is the current version.
#
# The release commit is found from history (the commit that changed the `version =` line),
# never from tags alone, so a clone without tags can still find every release.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

# changelog_versions FILE: the versions of its `## X.Y.Z` headings, top first.
changelog_versions() {
  sed -n 's/^## \[\{0,1\}v\{0,1\}\([0-9][0-9A-Za-z.+-]*\)\]\{0,1\}.*/\1/p' "$1"
}

crate_info() { # CRATE -> "version manifest_rel_path" or die
  local line
  line=$(published_crates | awk -v c="$1" '$1 == c') || true
  [ -n "$line" ] || die "$1 is not a published crate of this workspace (published: $(published_crates | awk '{print $1}' | tr '\n' ' '))"
  set -- $line
  echo "$2 ${3#"$REPO_ROOT"/}"
}

check_crate() { # CRATE VERSION MANIFEST -> prints problems, returns their count
  local crate=$1 current=$2 manifest=$3 prefix changelog problems=0 commit v tag target seen=""
  prefix=$(tag_prefix "$crate")
  changelog=$(dirname "$manifest")/CHANGELOG.md
  if [ ! -f "$changelog" ]; then
    echo "  $crate: $changelog is missing"; return 1
  fi
  local top
  top=$(changelog_versions "$changelog" | sed -n 1p)
  if [ "$top" != "$current" ]; then
    echo "  $crate: Cargo.toml says $current but the top entry of $changelog is '${top:-none}'"; problems=$((problems + 1))
  fi
  while read -r commit v; do
    [ -n "$commit" ] || continue
    seen="$seen $v"
    tag="$prefix-v$v"
    if ! grep -qxF "$v" <<<"$(changelog_versions "$changelog")"; then
      echo "  $crate $v (set by ${commit:0:9}): no '## $v' entry in $changelog"; problems=$((problems + 1))
    fi
    if target=$(git rev-parse -q --verify "refs/tags/$tag^{commit}"); then
      if [ "$target" = "$commit" ] || [ "$target" = "$(recorded_release "$crate" "$v")" ]; then
        echo "  $crate $v: tag $tag at ${commit:0:9}"
      else
        echo "  $crate $v: tag $tag points at ${target:0:9}, but ${commit:0:9} set the version"; problems=$((problems + 1))
      fi
    else
      echo "  $crate $v: no tag $tag here; release commit ${commit:0:9} found from history"
    fi
  done < <({ recorded_releases "$crate"; version_changes "$manifest"; } | awk '!seen[$2]++')
  while read -r tag; do
    [ -n "$tag" ] || continue
    v=${tag#"$prefix"-v}
    case " $seen " in *" $v "*) ;; *) echo "  $crate: tag $tag names a version $manifest never had"; problems=$((problems + 1)) ;; esac
  done < <(git tag --list "$prefix-v*")
  return "$problems"
}

require_history
if [ "${1:-}" = --check ]; then
  failures=0
  while read -r crate version manifest; do
    manifest=${manifest#"$REPO_ROOT"/}
    say "$crate $version ($manifest)"
    check_crate "$crate" "$version" "$manifest" || failures=$((failures + $?))
  done < <(published_crates)
  [ "$failures" -eq 0 ] || die "$failures problem(s)"
  say "ok: every release is tagged or found from history"
  exit 0
fi

[ $# -ge 1 ] || die "usage: release.sh CRATE [--version X.Y.Z] | release.sh --check"
crate=$1; shift
read -r current manifest < <(crate_info "$crate")
version=$current
if [ "${1:-}" = --version ]; then version=${2:?--version needs X.Y.Z}; fi
prefix=$(tag_prefix "$crate")
tag="$prefix-v$version"
changelog=$(dirname "$manifest")/CHANGELOG.md
[ -f "$changelog" ] || die "$changelog is missing"

if [ "$version" = "$current" ]; then
  top=$(changelog_versions "$changelog" | sed -n 1p)
  [ "$top" = "$version" ] || die "Cargo.toml says $version but the top entry of $changelog is '${top:-none}': write the entry first"
  commit=$(recorded_release "$crate" "$version")
  if [ -z "$commit" ]; then
    git diff --quiet HEAD || die "the working tree has changes: release from a committed state"
    commit=$(git rev-parse HEAD)
    printf '%s %s %s\n' "$crate" "$version" "$commit" >>"$RELEASES"
    git add "$RELEASES"
    git commit -q -m "Release $crate $version" -m "Recorded in scripts/releases.txt; the tag $tag points at ${commit:0:12}."
    say "recorded $crate $version at ${commit:0:9} in scripts/releases.txt (committed)"
  fi
else
  commit=$(release_commit "$manifest" "$version" "$crate")
  [ -n "$commit" ] || die "no release of $crate $version recorded or found in $manifest's history"
  grep -qxF "$version" <<<"$(changelog_versions "$changelog")" || die "$changelog has no '## $version' entry"
fi

if existing=$(git rev-parse -q --verify "refs/tags/$tag^{commit}"); then
  [ "$existing" = "$commit" ] || die "tag $tag exists at ${existing:0:9}, but ${commit:0:9} set the version"
  say "tag $tag already at ${commit:0:9} ($(git log -1 --format=%s "$commit"))"
  exit 0
fi
# The tag message: the crate and version, then the CHANGELOG entry.
entry=$(awk -v v="$version" '/^## /{ if (p) exit; if ($0 ~ "^## \\[?v?" v "([] ]|$)") p = 1 } p' "$changelog")
git tag -a "$tag" "$commit" -m "$crate $version" -m "${entry:-See $changelog.}"
say "created tag $tag at ${commit:0:9} ($(git log -1 --format=%s "$commit")); push it: git push origin $tag"
