#!/usr/bin/env bash
# Benchmarks gostub's reading of large Go binaries (issue 3): load, name index, PC->line lookups,
# memory. Prints the markdown rows of docs/PERFORMANCE.md's table, each the median of 5 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default --target symbols_bench
python3 - <<'PY'
import statistics, subprocess, sys
sys.path.insert(0, "tests/e2e")
import harness
binaries = [harness.debian_go_program(p) for p in harness.DEBIAN_GO_PROGRAMS]
binaries.append(harness.fixture(go=harness.available_toolchains()[-1], flavour="default"))
print("| binary | size | pclntab | functions | load | name index | PC->line | heap after load | heap after 1M lookups | binary pages touched |")
print("|---|---|---|---|---|---|---|---|---|---|")
for binary in binaries:
    rows = [subprocess.run(["build/default/bench/symbols_bench", str(binary)], capture_output=True,
                           text=True, check=True).stdout.strip().strip("|").split("|") for _ in range(5)]
    median = []
    for column in zip(*rows):
        values = [c.strip() for c in column]
        try:
            numbers = sorted(float(v.split()[0]) for v in values)
            unit = values[0].split()[1] if " " in values[0] else ""
            median.append(f"{statistics.median(numbers):g} {unit}".strip())
        except ValueError:
            median.append(values[0])
    median[0] = binary.name
    print("| " + " | ".join(median) + " |")
PY
