#!/usr/bin/env bash
# The whole test suite, with its set-up: the README's test command.
#
# Installs the independent peers the interop tests use when they are
# missing and this machine can install them (root with apt-get for tshark
# and systemd's tools, pip for smpplib, cargo for ../shared/tools/smppkit);
# the tests that need a missing tool skip with a message saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tshark >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run-all: installing tshark (Debian) for the SMPP and SIP dissector tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq tshark >/dev/null \
      || echo "run-all: could not install tshark; its tests will skip"
    APT_UPDATED=1
  else
    echo "run-all: tshark not found and cannot be installed here; its tests will skip"
  fi
fi

# systemd-analyze, systemd-sysusers, systemd-tmpfiles (Debian `systemd`, a
# few MB without recommends): tests/systemd_units.rs checks systemd/ with them.
if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run-all: installing systemd (Debian) for the unit file checks"
    export DEBIAN_FRONTEND=noninteractive
    { [ -n "${APT_UPDATED:-}" ] || apt-get update -qq >/dev/null; } \
      && apt-get install -y -qq --no-install-recommends systemd >/dev/null \
      || echo "run-all: could not install systemd; the unit checks will skip"
  else
    echo "run-all: systemd-analyze not found and cannot be installed here; the unit checks will skip"
  fi
fi

# Python smpplib: an independent ESME for the interop test.
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import smpplib" >/dev/null 2>&1; then
  echo "run-all: installing Python smpplib (PyPI) for the interop test"
  python3 -m pip install --quiet smpplib >/dev/null 2>&1 \
    || python3 -m pip install --quiet --break-system-packages smpplib >/dev/null 2>&1 \
    || echo "run-all: could not install smpplib; its test will skip"
fi

# smppkit (../shared/tools): an independent SMPP peer built on rusmpp.
SMPPKIT_SRC=../shared/tools/smppkit
if [ -f "$SMPPKIT_SRC/Cargo.toml" ] && [ ! -x target/smppkit/release/smppkit ]; then
  echo "run-all: building smppkit for the interop test"
  CARGO_TARGET_DIR="$PWD/target/smppkit" cargo build --release -q \
    --manifest-path "$SMPPKIT_SRC/Cargo.toml" \
    || echo "run-all: could not build smppkit; its test will skip"
fi

cargo test --workspace --all-features
