#!/usr/bin/env bash
# Set up everything lamina needs on a fresh Debian/Ubuntu machine: the Fashion-MNIST package and a venv.
# `--for-tests` (what scripts/test.sh passes) also installs what only the tests use: Debian's `chromium`, in which
# tests/report/test_browser.py renders the HTML training report, and a Java runtime for Spark's TorchDistributor
# in tests/distribution/test_spark.py.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=()
if [ ! -d /usr/share/datasets/fashion-mnist ]; then packages+=(dataset-fashion-mnist); fi
if [ "${1:-}" = "--for-tests" ]; then
  if ! command -v chromium >/dev/null; then packages+=(chromium); fi
  if ! command -v java >/dev/null; then packages+=(openjdk-17-jre-headless); fi
fi
if [ ${#packages[@]} -gt 0 ]; then
  sudo_cmd=""
  if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${packages[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
