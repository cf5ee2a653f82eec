#!/usr/bin/env bash
# Regenerates the Python code for protos/caseguard/v1/*.proto.
# The only way generated code is made: never edit *_pb2*.py by hand.
# CI runs this and fails if the checked-in files change.
set -euo pipefail
PINNED_GRPCIO_TOOLS="1.85.1"
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
have=$("$PY" -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))' 2>/dev/null || true)
if [ "$have" != "$PINNED_GRPCIO_TOOLS" ]; then
  echo "gen_protos: need grpcio-tools==$PINNED_GRPCIO_TOOLS (have '${have:-none}'); pip install grpcio-tools==$PINNED_GRPCIO_TOOLS" >&2
  exit 1
fi
rm -f protos/caseguard/v1/*_pb2*.py protos/caseguard/v1/*_pb2*.pyi
"$PY" -m grpc_tools.protoc -Iprotos \
  --python_out=protos --pyi_out=protos --grpc_python_out=protos \
  protos/caseguard/v1/*.proto
echo "gen_protos: generated $(ls protos/caseguard/v1/*_pb2*.py | wc -l) modules with grpcio-tools $have"
