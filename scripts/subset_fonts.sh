#!/usr/bin/env bash
# The browser's copy of the handwriting font (typed signatures on the signer page): a WOFF2
# subset of static/fonts/DancingScript-Regular.otf with Latin-1, French letters (Œ œ Ÿ),
# typographic punctuation and €. 63 KB of OTF become ~22 KB. The OTF stays whole: WeasyPrint
# and signing/images.py draw with it. Run after changing the OTF: bash scripts/subset_fonts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pyftsubset static/fonts/DancingScript-Regular.otf \
  --unicodes="U+0020-007E,U+00A0-00FF,U+0152-0153,U+0178,U+2013-2014,U+2018-201A,U+201C-201E,U+2022,U+2026,U+2039-203A,U+20AC,U+2122" \
  --flavor=woff2 --desubroutinize \
  --output-file=static/fonts/DancingScript-subset.woff2
ls -l static/fonts/DancingScript-subset.woff2
