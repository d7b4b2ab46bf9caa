#!/usr/bin/env bash
# One set-up for `npm start`, `npm test` and `npm run bench` on a fresh machine:
# Debian packages, npm dependencies, the native addon, the TypeScript. Each step
# is skipped when its result is already there and up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "passfs setup: $*" >&2; }

# Debian packages: liburing for the addon, build tools for cmake-js, fio and
# stress-ng for the bench and stress tests, attr for getfattr/setfattr, acl for
# setfacl/getfacl, xfsprogs for xfs_io (fallocate modes, O_DIRECT), python3
# for the tests that call mmap, fallocate and copy_file_range directly, fuse3
# for fusermount3 (the tests unmount with it as FUSE users do).
debs=(liburing-dev pkg-config cmake g++ make fio stress-ng attr acl xfsprogs util-linux python3 fuse3)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# fuse3 replaces the FUSE 2 package: never installed over it (the fusermount3 test then says it is missing).
if installed fuse; then debs=("${debs[@]/fuse3}"); say "the fuse (FUSE 2) package is installed: not installing fuse3 over it"; fi
missing=()
for p in "${debs[@]}"; do [ -n "$p" ] || continue; installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then say "missing Debian packages (${missing[*]}) and not root: run as root"; exit 1; fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

# npm dependencies (dev ones too: the build and the tests need them).
stamp=node_modules/.passfs-installed
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  say "installing npm dependencies"
  if [ -f package-lock.json ]; then npm ci --include=dev --no-audit --no-fund --loglevel=error; else npm install --include=dev --no-audit --no-fund --loglevel=error; fi
  touch "$stamp"
fi

# The native addon, rebuilt when its sources change.
addon=build/Release/passfs.node
if [ ! -f "$addon" ] || [ -n "$(find addon CMakeLists.txt -newer "$addon" -print -quit)" ]; then
  say "building the native addon"
  npx --no-install cmake-js compile --out build --log-level error >/dev/null
fi

# The TypeScript, rebuilt when any source is newer than the last build.
if [ ! -f dist/.built ] || [ -n "$(find src tsconfig.json -newer dist/.built -print -quit)" ]; then
  say "compiling TypeScript"
  npx --no-install tsc -p tsconfig.json
  touch dist/.built
fi
