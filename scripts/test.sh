#!/usr/bin/env bash
# Installs everything, checks formatting, builds the default and the ASan/UBSan configurations
# and runs every test (doctest units and end-to-end tests with real gdb and gdbserver) in both,
# then runs each libFuzzer target for a few seconds on its corpus (scripts/fuzz.sh for long runs).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== clang-format"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror

for preset in default asan; do
  echo "== $preset: configure, build, test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset"
done

echo "== fuzz: each target for a few seconds"
bash scripts/fuzz.sh --seconds "${GOSTUB_FUZZ_SECONDS:-5}"
