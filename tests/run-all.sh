#!/usr/bin/env bash
# The whole test suite, with its set-up: the README's test command.
#
# Installs the independent peers the interop tests use when they are
# missing and this machine can install them (root with apt-get); the tests
# that need a missing tool skip with a message saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tshark >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run-all: installing tshark (Debian) for the SMPP dissector test"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq tshark >/dev/null \
      || echo "run-all: could not install tshark; its test will skip"
  else
    echo "run-all: tshark not found and cannot be installed here; its test will skip"
  fi
fi

cargo test --workspace --all-features
