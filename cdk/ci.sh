#!/usr/bin/env bash
# The CDK app's CI, offline and without AWS credentials, from a fresh clone:
#   npm ci -> cfn-lint (pinned) -> tsc -> jest -> cdk synth with placeholder artifacts, of the default
#   (PostgreSQL) app and of the Aurora MySQL variant (-c bookstore:engine=mysql), side by side -> cfn-lint on
#   both sets of templates.
# cfn-lint: when ../scripts/versions.env exists, its CFN_LINT_VERSION is the pin and cfn-lint must already
# be on PATH at that version (scripts/setup.sh installs it); otherwise this script installs its own
# pinned copy into cdk/.venv.
# Prints "N passed, N failed" for the jest run and exits non-zero if any step failed.
# Called from the repo root by scripts/test.sh as `bash cdk/ci.sh`; works from anywhere.
set -euo pipefail
cd "$(dirname "$0")"

CFN_LINT_VERSION=1.58.0
NODE_MAJOR_MIN=20
VERSIONS_ENV=../scripts/versions.env
if [ -f "$VERSIONS_ENV" ]; then
  # shellcheck source=/dev/null
  . "$VERSIONS_ENV"
fi

# Offline synth: no version check, no EC2 metadata probe for credentials or region.
export CDK_DISABLE_VERSION_CHECK=1 AWS_EC2_METADATA_DISABLED=true
export CI="${CI:-true}"

start=$SECONDS
step() { printf '\n--- cdk: %s (%ss)\n' "$1" "$((SECONDS - start))"; }
die() { printf 'cdk/ci.sh: %s\n' "$1" >&2; exit 1; }

step "tools"
command -v node >/dev/null || die "node is missing: install Node.js >= $NODE_MAJOR_MIN (Debian: apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm is missing: apt-get install npm"
[ -f "$VERSIONS_ENV" ] || command -v python3 >/dev/null || die "python3 is missing: apt-get install python3 python3-venv"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge "$NODE_MAJOR_MIN" ] || die "node $(node --version) is too old: aws-cdk-lib needs >= $NODE_MAJOR_MIN"
echo "node $(node --version), npm $(npm --version 2>/dev/null)"

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "cfn-lint $CFN_LINT_VERSION"
if [ -f "$VERSIONS_ENV" ]; then
  # The repository installs its tools in one place; this script only checks.
  found=$(cfn-lint --version 2>/dev/null || true)
  [ "$found" = "cfn-lint $CFN_LINT_VERSION" ] ||
    die "cfn-lint $CFN_LINT_VERSION is not on PATH (found: ${found:-none}): run \`bash scripts/setup.sh\` from the repository root"
  CFN_LINT=$(command -v cfn-lint)
else
  if [ "$(.venv/bin/cfn-lint --version 2>/dev/null || true)" != "cfn-lint $CFN_LINT_VERSION" ]; then
    rm -rf .venv
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
  fi
  CFN_LINT=.venv/bin/cfn-lint
fi
"$CFN_LINT" --version

step "tsc --noEmit"
npx --no-install tsc --noEmit -p .

step "jest"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
jest_status=0
npx --no-install jest --ci --json --outputFile="$results" || jest_status=$?
counts=$(node -e '
  const fs = require("fs");
  let r = {};
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
  const failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
  console.log(`${r.numPassedTests ?? 0} passed, ${failed} failed`);
' "$results")

step "cdk synth (placeholder artifacts; PostgreSQL and Aurora MySQL)"
placeholder=$(mktemp -d)
synth_logs=$(mktemp -d)
trap 'rm -f "$results"; rm -rf "$placeholder" "$synth_logs"' EXIT
# Same placeholder as lib/artifacts.ts writes for the tests: it can never serve or migrate.
cat >"$placeholder/bootstrap" <<'EOF'
#!/bin/sh
# PLACEHOLDER written by cdk/ci.sh: not a real Lambda. Never deploy it.
echo "placeholder artifact: build the real ones with 'bash scripts/build-lambdas.sh'" >&2
exit 1
EOF
chmod 755 "$placeholder/bootstrap"
rm -rf cdk.out
# tsc has type-checked everything above, so ts-node only transpiles the app: each synth takes half the time.
export TS_NODE_TRANSPILE_ONLY=true
synth() { npx --no-install cdk synth --quiet -c "bookstore:placeholderArtifactDir=$placeholder" "$@"; }
# The two variants share nothing but the placeholder, so they synthesise at the same time. PostgreSQL with
# the optional registry stack, so cfn-lint sees every template the app can produce; the MySQL variant
# changes only the database and app stacks (test/mysql.test.ts), written to cdk.out/mysql.
synth -c bookstore:codeArtifact=true -o cdk.out >"$synth_logs/postgres" 2>&1 &
postgres_pid=$!
synth -c bookstore:engine=mysql -o cdk.out/mysql >"$synth_logs/mysql" 2>&1 &
mysql_pid=$!
synth_status=0
wait "$postgres_pid" || synth_status=$?
mysql_synth_status=0
wait "$mysql_pid" || mysql_synth_status=$?
for variant in postgres mysql; do
  if [ -s "$synth_logs/$variant" ]; then
    echo "synth ($variant):"
    cat "$synth_logs/$variant"
  fi
done
[ "$synth_status" -eq 0 ] || echo "cdk synth (PostgreSQL) failed: exit $synth_status"
if [ "$mysql_synth_status" -ne 0 ]; then
  echo "cdk synth (-c bookstore:engine=mysql) failed: exit $mysql_synth_status"
  synth_status=$mysql_synth_status
fi

step "cfn-lint cdk.out/*.template.json cdk.out/mysql/*.template.json"
lint_status=0
if [ "$synth_status" -eq 0 ]; then
  # .cfnlintrc.yaml (this folder) holds the one ignored rule and why. One run for both variants (cfn-lint's
  # start-up is a good part of its time).
  "$CFN_LINT" -- cdk.out/*.template.json cdk.out/mysql/*.template.json || lint_status=$?
  [ "$lint_status" -eq 0 ] &&
    echo "cfn-lint: $(ls cdk.out/*.template.json | wc -l) PostgreSQL and $(ls cdk.out/mysql/*.template.json | wc -l) Aurora MySQL templates clean"
else
  echo "skipped: synth failed"
  lint_status=1
fi

step "done"
echo "jest exit $jest_status, synth exit $synth_status, cfn-lint exit $lint_status"
echo "$counts"
[ "$jest_status" -eq 0 ] && [ "$synth_status" -eq 0 ] && [ "$lint_status" -eq 0 ]
