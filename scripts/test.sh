#!/usr/bin/env bash
# The whole test suite, from a fresh clone: sets up, checks generated code, lints, type-checks, tests.
# Integration tests start real collectors and agents on loopback, real X servers and mounts;
# some need root (loop mounts) and fail loudly without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== generated protobuf code is up to date"
PYTHON=.venv/bin/python scripts/gen_protos.sh
if ! git diff --quiet --exit-code -- protos/ 2>/dev/null; then
  git --no-pager diff --stat -- protos/
  echo "generated code differs from protos/*.proto: run scripts/gen_protos.sh and commit" >&2
  exit 1
fi
if [ -n "$(git status --porcelain -- protos/ 2>/dev/null)" ]; then
  git status --porcelain -- protos/
  echo "regenerating protos/ created untracked files: commit them" >&2
  exit 1
fi

echo "== ruff"
ruff check agent collector tests bench protos
echo "== mypy"
mypy agent collector tests bench protos/caseguard/enrollment_proof.py
echo "== mypy: the agent as Windows and macOS see it (their backends are typed with sys.platform guards)"
mypy --platform win32 agent
mypy --platform darwin agent

echo "== pytest"
pytest -ra "$@"
