#!/usr/bin/env bash
# Installs the Debian handwriting fonts and word lists used by the synthetic data generator; with --dev
# also Chromium, which the test suite runs headless to render the error-analysis page (htr_lit.inspect).
# Skips quietly where they are already present, and with a hint where apt is not available.
set -u
PKGS="fonts-dancingscript fonts-kaushanscript fonts-kristi fonts-breip fonts-dkg-handwriting
fonts-ecolier-court fonts-femkeklaver fonts-rufscript fonts-sjfonts fonts-tlwg-purisa-otf
fonts-lobster fonts-havana wamerican wngerman"
[ "${1:-}" = "--dev" ] && PKGS="$PKGS chromium"
missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
else
  echo ">> no dpkg: install handwriting fonts yourself and set data.synthetic.font_dir (see README)"
  [ "${1:-}" = "--dev" ] && echo ">> the headless browser test skips without chromium"
  exit 0
fi
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
if [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
  echo ">> cannot apt-get install (not root, no sudo); missing:$missing"; exit 0
fi
echo ">> apt-get install$missing"
$SUDO apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null \
  || echo ">> apt-get install failed; the generator will say which fonts it could not find"
