#!/usr/bin/env bash
# Installs the Debian packages SignFlow needs when they are missing:
# WeasyPrint's libraries (harfbuzz-subset makes it ~4x faster), the fonts the PDFs use,
# gettext for the catalogs, poppler (pdfsig) and qpdf to check PDFs, Chromium for browser tests,
# SoftHSM2 (a PKCS#11 token for the seal-key tests) and NSS's certutil (pdfsig trusting our root).
set -euo pipefail
packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core
  fonts-dancingscript gettext poppler-utils qpdf openssl chromium softhsm2 libnss3-tools)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "Missing Debian packages: ${missing[*]} (run as root to install them)" >&2; exit 1
  fi
fi
echo "Installing Debian packages: ${missing[*]}"
${SUDO:-} apt-get update -qq
DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
