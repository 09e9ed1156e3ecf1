#!/usr/bin/env bash
# Set up everything lamina needs on a fresh Debian/Ubuntu machine: the Fashion-MNIST package and a venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  sudo_cmd=""
  if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
