#!/usr/bin/env bash
# Installs what Orderly and its local stack need on a fresh Debian machine, skipping what is there:
# Java 17, Maven, redis-server, promtool and Chromium (Debian packages), the npm dependencies (Node 24 comes from the
# `node` dev dependency, which installs the Node binary of this platform), and the Kafka and Apicurio Registry jars (Maven Central).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v redis-server >/dev/null || missing+=(redis-server)
# promtool checks the alert rules (observability/alerts); the package's server is never started.
command -v promtool >/dev/null || missing+=(prometheus)
# The console's browser tests drive Debian's Chromium through playwright-core (no browser is downloaded).
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

echo "fetching the Kafka broker jars (infra/kafka/pom.xml)"
mvn -B -q -f infra/kafka/pom.xml package
echo "fetching Apicurio Registry (infra/registry/pom.xml)"
mvn -B -q -s infra/registry/settings.xml -f infra/registry/pom.xml package
