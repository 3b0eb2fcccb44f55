#!/usr/bin/env bash
# Installs everything, builds gostub and the bundled Go demo, and debugs the demo with gdb
# through gostub: breakpoints, backtraces, locals, threads and the program's own exit; then
# the demo again with a bad coupon, stopped by gostub where a worker goroutine panics, its
# goroutines listed.
# GOSTUB=/usr/bin/gostub bash scripts/demo.sh uses that gostub (e.g. the installed package)
# and skips the set-up and the build (Go and gdb must be there).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${GOSTUB:-}" ]; then
  bash scripts/setup.sh
  cmake --preset default >/dev/null
  cmake --build --preset default
  GOSTUB=./build/default/server/gostub
fi

demo_dir=build/demo
mkdir -p "$demo_dir"
(cd examples/demo && GOFLAGS=-mod=mod GOCACHE="$PWD/../../$demo_dir/gocache" \
  go build -gcflags='all=-N -l' -o "../../$demo_dir/demo" .)

log=$(mktemp)
trap 'kill %1 2>/dev/null || true; rm -f "$log"' EXIT
"$GOSTUB" --once 127.0.0.1:0 "$demo_dir/demo" >"$log" 2>&1 &
for _ in $(seq 100); do grep -q 'Listening on port' "$log" && break; sleep 0.1; done
port=$(sed -n 's/^Listening on port \([0-9]*\)$/\1/p' "$log")
echo "== gostub is serving $demo_dir/demo on port $port; gdb connects:"

gdb -nx -batch -iex 'set auto-load python-scripts off' \
  -ex 'set pagination off' -ex 'set confirm off' \
  -ex "target remote 127.0.0.1:$port" \
  -ex 'break main.checkout' \
  -ex 'continue' \
  -ex 'bt' \
  -ex 'info args' \
  -ex 'print order' \
  -ex 'print *order.Items.array@2' \
  -ex 'info threads' \
  -ex 'finish' \
  -ex 'delete' \
  -ex 'continue' \
  "$demo_dir/demo"
wait %1 || true
echo "== gostub said:"
cat "$log"

echo
echo "== Order 4 has a coupon that does not exist. gdb runs the demo through gostub over a pipe"
echo "== (no port); gostub stops the program where the worker panics:"
gdb -nx -batch -iex 'set auto-load python-scripts off' \
  -ex 'set pagination off' -ex 'set confirm off' \
  -ex "target remote | $GOSTUB - $demo_dir/demo bad-coupon" \
  -ex 'continue' \
  -ex 'bt' \
  -ex 'frame function main.checkout' \
  -ex 'print order.Coupon' \
  -ex "print 'main.discounts'" \
  -ex 'monitor goroutines -u' \
  -ex 'kill' \
  "$demo_dir/demo"
