#!/usr/bin/env bash
# Installs what PEFTLab needs on a Debian machine: system libraries (apt) and the
# Jupyter clients used by the demo and the tests (pip, in ./.venv). Idempotent and
# quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(pkg-config libzmq3-dev libopenblas-dev libpng-dev libjpeg62-turbo-dev python3 python3-venv python3-pip)
# The test suite also drives JupyterLab in a real (headless) browser.
if [ "${1:-}" = "--test" ]; then apt_packages+=(chromium chromium-driver); fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# python3-venv/python3-pip only matter when the python3 on PATH cannot make a venv itself.
if python3 -m venv --help >/dev/null 2>&1; then
  missing=("${missing[@]/python3-venv}"); missing=("${missing[@]/python3-pip}"); missing=("${missing[@]/python3}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: the Swift toolchain (6.0 or newer) is not on PATH; install it from swift.org first" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.requirements-installed
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  touch "$stamp"
fi
