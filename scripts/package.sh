#!/usr/bin/env bash
# The runtime package for storage nodes: built once here (with the compilers
# `npm start` installs), installed there with no compiler, no cmake and no
# registry access:
#   npm run package                      # -> pkg/passfs-VERSION-linux-ARCH.tgz
#   npm install -g ./passfs-VERSION-linux-ARCH.tgz   # on the node: the Node major it was built with, and nothing else
# The tarball holds the compiled TypeScript, the built addon (liburing and the
# C++ runtime linked in: it needs only the C library), its npm dependencies
# bundled, the passfs(8) page (npm -g puts it on MANPATH) and the bash
# completion script. Usage: scripts/package.sh [OUT_DIR] (default pkg/).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-pkg}")
say() { echo "passfs package: $*" >&2; }

bash scripts/setup.sh
version=$(node -p 'require("./package.json").version')
arch=$(node -p 'process.arch')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' || true)" ]; then commit="$commit+changes"; fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/passfs"
mkdir -p "$pkg/build/Release" "$pkg/man" "$pkg/completion"
cp -r bin dist README.md docs "$pkg/"
rm -f "$pkg/dist/.built"
find "$pkg/dist" -name '*.map' -delete
cp build/Release/passfs.node "$pkg/build/Release/"
printf '{ "commit": "%s", "built": "%s" }\n' "$commit" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$pkg/dist/build-info.json"
node bin/passfs.js man > "$pkg/man/passfs.8"
node bin/passfs.js completion bash > "$pkg/completion/passfs.bash"

# package.json for the node: runtime dependencies only, all bundled; no scripts (nothing runs at install).
node - "$pkg/package.json" "$arch" <<'EOF'
const fs = require('fs');
const [file, arch] = process.argv.slice(2);
const src = require('./package.json');
// node-addon-api is headers for the build; the built addon does not need it.
const deps = Object.fromEntries(Object.entries(src.dependencies).filter(([k]) => k !== 'node-addon-api'));
// The addon uses V8's API for one step (addon/handover.cc): it runs on the Node major it was built with.
const major = process.versions.node.split('.')[0];
const pkg = {
  name: src.name, version: src.version, description: src.description, license: src.license, type: src.type,
  bin: src.bin, engines: { node: `>=${major}.0.0 <${Number(major) + 1}` }, os: ['linux'], cpu: [arch],
  man: ['./man/passfs.8'],
  files: ['bin', 'dist', 'build/Release/passfs.node', 'man', 'completion', 'docs', 'README.md'],
  dependencies: deps, bundleDependencies: Object.keys(deps),
};
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
EOF
say "bundling the runtime dependencies"
(cd "$pkg" && { npm install --omit=dev --no-audit --no-fund --loglevel=error --offline >/dev/null 2>&1 || npm install --omit=dev --no-audit --no-fund --loglevel=error >/dev/null; })
mkdir -p "$out"
tgz=$(cd "$pkg" && npm pack --pack-destination "$stage" --loglevel=error 2>/dev/null | tail -1)
mv "$stage/$tgz" "$out/passfs-$version-linux-$arch.tgz"
say "built $out/passfs-$version-linux-$arch.tgz (commit $commit)"
echo "$out/passfs-$version-linux-$arch.tgz"
