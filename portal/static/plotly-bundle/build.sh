#!/usr/bin/env bash
# Build ../plotly-portal.min.js (portal/static) from entry.js with the pinned plotly.js and esbuild (npm).
set -euo pipefail
cd "$(dirname "$0")"
npm install --no-audit --no-fund --silent
version=$(node -p "require('plotly.js/package.json').version")
out=../plotly-portal.min.js
npx esbuild entry.js --bundle --format=iife --global-name=Plotly --minify --target=es2016 \
  --define:global=window --define:define.amd=false --log-level=warning \
  --banner:js="/* plotly.js ${version} (MIT, see plotly.LICENSE.txt); traces: scatter, bar, box, heatmap, waterfall */" \
  --outfile="$out"
rm -f ../plotly-portal.min.css  # maplibre's styles: the portal draws no maps
cp node_modules/plotly.js/LICENSE ../plotly.LICENSE.txt
echo "built $out (plotly.js $version)"
