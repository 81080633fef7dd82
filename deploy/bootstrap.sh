#!/usr/bin/env bash
# Installs what the local stack needs and is missing: system packages (Java 17, Maven, PostgreSQL),
# the project virtualenv and its Python packages. Idempotent and quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
fail() { printf 'error: step "%s" failed: %s\n' "$1" "$2" >&2; exit 1; }

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# The receipt check without Python (clients/shell/verify-receipt.sh, docs/接入指南.md) and its test.
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)  # the Java example client (clients/java)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  [ -n "${DATABASE_URL:-}" ] || missing+=(postgresql)
fi
# Browser tests of the portal drive Debian's Chromium (Playwright never downloads a browser here);
# the CJK font makes Chinese pages render in screenshots.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
# Credit reports are rendered to PDF by WeasyPrint, which needs Pango and HarfBuzz's subsetter (the PDF
# embeds a subset of the Noto CJK font above).
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so.0' || missing+=(libharfbuzz-subset0)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    fail "system packages" "run as root or install them first: sudo apt-get install -y ${missing[*]}"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq || fail "system packages" "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || fail "system packages" "apt-get install ${missing[*]}"
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' \
  || fail "python" "Python 3.11+ is needed ($PY is $("$PY" --version 2>&1))"

stamp=.venv/.installed
if [ ! -x .venv/bin/python ]; then
  say "creating the virtualenv in .venv"
  "$PY" -m venv .venv || fail "virtualenv" "$PY -m venv .venv"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing Python packages into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' || fail "python packages" "pip install -e .[dev]"
  touch "$stamp"
fi
