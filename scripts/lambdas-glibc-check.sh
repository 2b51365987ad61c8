#!/usr/bin/env bash
# Fails when a binary needs a glibc symbol version newer than the given one (Amazon Linux 2023,
# the provided.al2023 runtime, has glibc 2.34). readelf reads ELF of any architecture.
# Usage: lambdas-glibc-check.sh MAX_VERSION BINARY...
set -euo pipefail
max="$1"; shift
status=0
for bin in "$@"; do
  newest=$(readelf -V --wide "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
  if [ -z "$newest" ]; then
    echo "glibc check: $bin needs no versioned glibc symbols"
  elif [ "$(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -1)" != "$max" ]; then
    echo "glibc check: $bin needs GLIBC_$newest, newer than $max" >&2
    status=1
  else
    echo "glibc check: $bin needs at most GLIBC_$newest (limit $max)"
  fi
done
exit $status
