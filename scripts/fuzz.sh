#!/usr/bin/env bash
# Builds the libFuzzer targets (the "fuzz" preset: clang-19, ASan + UBSan) and runs each on its
# seed corpus (tests/fuzz/corpus/TARGET) plus what earlier runs found (build/fuzz/corpus/TARGET).
#   scripts/fuzz.sh                  # every target until 1,000,000 executions each
#   scripts/fuzz.sh --runs N         # N executions each
#   scripts/fuzz.sh --seconds S      # S seconds each (scripts/test.sh: a short run for CI)
#   scripts/fuzz.sh ... TARGET...    # only these (framing commands agent_expression pclntab
#                                    # build_info elf goroutines)
# A crash, a sanitizer report, a leak or an input that runs over 10 s fails the run; the input
# is kept as build/fuzz/artifacts/TARGET-crash-… Keep it as a regression seed in the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-runs=1000000)
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) limit=(-runs="$2"); shift 2 ;;
    --seconds) limit=(-max_total_time="$2"); shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] ||
  targets=(framing commands agent_expression pclntab build_info elf goroutines)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

mkdir -p build/fuzz/artifacts
printf '| target | executions | seconds | executions/s | result |\n| --- | --- | --- | --- | --- |\n'
failed=0
for target in "${targets[@]}"; do
  work=build/fuzz/corpus/$target
  log=build/fuzz/$target.log
  mkdir -p "$work"
  started=$(date +%s%N)
  status=0
  "build/fuzz/tests/fuzz/fuzz_$target" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$target-" \
    "$work" "tests/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  elapsed_ns=$(($(date +%s%N) - started))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  runs=${runs:-0}
  result="0 crashes"
  if [ "$status" -ne 0 ]; then
    result="FAILED (exit $status): see $log"
    failed=1
  fi
  printf '| %s | %s | %d | %d | %s |\n' "$target" "$runs" $((elapsed_ns / 1000000000)) \
    $((runs * 1000000000 / (elapsed_ns + 1))) "$result"
done
exit $failed
