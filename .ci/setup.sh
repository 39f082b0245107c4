#!/usr/bin/env bash
# Creates .venv (once, and again when a requirements file changes) and installs what $1 needs:
#   app  -> requirements.txt
#   test -> tests/requirements.txt, plus Debian chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-app}"
py="${PYTHON:-python3}"
req=requirements.txt
[ "$what" = test ] && req=tests/requirements.txt
stamp=".venv/.installed-$what"
sum=$(cat requirements.txt "$req" | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($py --version)…"
  "$py" -m venv .venv
fi
# the test set-up installs everything the app needs as well: a current test install will do for the app
test_sum=$(cat requirements.txt tests/requirements.txt | sha256sum | cut -c1-16)
if [ "$what" = app ] && [ -f .venv/.installed-test ] && [ "$(cat .venv/.installed-test)" = "$test_sum" ]; then
  stamp=.venv/.installed-test; sum=$test_sum
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "Installing $req (first run: a few minutes; torch is large)…"
  .venv/bin/python -m pip install --disable-pip-version-check -q -r "$req" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import torch, torchvision, streamlit, albumentations, pytorch_grad_cam" \
    || { echo "dependency install failed"; exit 1; }
  echo "$sum" > "$stamp"
fi
if [ "$what" = test ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian chromium for the browser tests…"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null
  else
    echo "note: /usr/bin/chromium missing and not root: browser tests will be skipped" >&2
  fi
fi
