#!/usr/bin/env bash
# Rebuilds the vendored browser libraries under static/vendor/ from the npm registry, once, by hand
# (Node 20 and npm). The output is committed: `make run` and `make test` need no Node.
# Usage: scripts/vendor-build/build.sh   (from the repository root)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d /tmp/stepwise-vendor-build.XXXXXX)"
cp "$here/package.json" "$here/package-lock.json" "$here/codemirror-entry.js" "$here/js-yaml-entry.js" "$work/"
cd "$work"
npm ci --no-audit --no-fund
version() { node -p "require('./node_modules/$1/package.json').version"; }
cm="$repo/static/vendor/codemirror-$(version codemirror)"
jy="$repo/static/vendor/js-yaml-$(version js-yaml)"
mkdir -p "$cm/LICENSES" "$jy"
npx esbuild codemirror-entry.js --bundle --format=esm --minify --legal-comments=eof --target=es2020 \
    --metafile=meta.json --outfile="$cm/codemirror.js"
npx esbuild js-yaml-entry.js --bundle --format=esm --minify --legal-comments=eof --target=es2020 \
    --outfile="$jy/js-yaml.js"
# Every package that went into the CodeMirror bundle, with its licence.
node -e '
  const inputs = Object.keys(require("./meta.json").inputs);
  const names = new Set(inputs.map((p) => (p.match(/node_modules\/((@[^/]+\/)?[^/]+)/) || [])[1]).filter(Boolean));
  for (const name of [...names].sort()) {
    const pkg = require(`./node_modules/${name}/package.json`);
    console.log(`${name} ${pkg.version} ${pkg.license}`);
  }' > "$cm/PACKAGES.txt"
while read -r name _; do
  cp "node_modules/$name/LICENSE" "$cm/LICENSES/${name//\//__}.txt"
done < "$cm/PACKAGES.txt"
cp node_modules/js-yaml/LICENSE "$jy/LICENSE"
echo "js-yaml $(version js-yaml) MIT" > "$jy/PACKAGES.txt"
rm -rf "$work"
echo "Built $cm and $jy"
