#!/usr/bin/env bash
# Side-by-side benchmarks: gostub, GNU gdbserver and lldb-server-19 over raw RSP (5 runs each,
# interleaved), 10,000 goroutines listed by gostub and Delve, then gostub's reading of large Go
# binaries. Prints the tables of
# docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default
python3 bench/rsp_bench.py --repeat "${REPEAT:-5}"
python3 bench/client_bench.py --repeat "${REPEAT:-3}"
python3 bench/stop_bench.py --repeat "${REPEAT:-3}"
python3 bench/goroutines_bench.py --repeat "${REPEAT:-5}"
python3 bench/print_bench.py --repeat "${REPEAT:-11}"
bash scripts/bench-symbols.sh
python3 bench/serve_symbols_bench.py --repeat "${REPEAT:-3}"
