#!/usr/bin/env bash
# Java for the Spark engine (cpoc --engine spark; tests/test_spark_engine.py): Debian's
# openjdk-17-jre-headless (Spark 4 needs Java 17 or later), installed only when no `java` is on
# PATH (nor $JAVA_HOME/bin/java): as root, or with sudo when it works without a password.
# `scripts/setup --spark` calls it after installing the [spark] extra (PySpark from PyPI);
# .ci/run runs that setup. Exit status 1 when Java is still missing.
set -euo pipefail

log() { echo "ci-spark: $*" >&2; }

have_java() {
  command -v java >/dev/null || { [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; }
}

if have_java; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  log "java is missing and neither root nor sudo: not installed"
  exit 1
fi
log "installing Debian's openjdk-17-jre-headless"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >&2 || true
# the JRE's post-install step needs the man folder, absent from slim images
"${as_root[@]}" mkdir -p /usr/share/man/man1
"${as_root[@]}" apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >&2
have_java
