#!/usr/bin/env bash
# Delve 1.20.2's own test suite (pkg/proc by default) with -backend=lldb, run twice: against
# gostub started as lldb-server (a symlink named lldb-server first on PATH) and against
# lldb-server-19 itself, then a table of every test's outcome under both.
#
#   scripts/delve-suite.sh [--packages "pkg/proc service/test"] [--run REGEX] [--servers "gostub lldb-server"]
#
# Delve's source comes from Debian (`apt-get source delve`); when no deb-src entry exists, one is
# derived from the machine's own apt sources (each "Types: deb" entry as "Types: deb-src").
# Its Go dependencies are Debian's golang-*-dev packages, built in GOPATH mode (Debian's Go
# packages are a GOPATH tree under /usr/share/gocode; modules cannot resolve offline).
#
# Environment: GOSTUB (default build/default/server/gostub), LLDB_SERVER (default
# /usr/lib/llvm-19/bin/lldb-server), GO (default /usr/lib/go-1.19/bin/go: Delve 1.20 supports
# Go 1.18-1.20), DELVE_SUITE_WORK (default build/delve-suite), DELVE_SUITE_TIMEOUT (go test's
# -timeout, default 60m). Results: $DELVE_SUITE_WORK/results/<server>-<package>.log and
# table.md (the table that docs/delve-suite.md shows).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
gostub=${GOSTUB:-$repo/build/default/server/gostub}
lldb_server=${LLDB_SERVER:-/usr/lib/llvm-19/bin/lldb-server}
go=${GO:-/usr/lib/go-1.19/bin/go}
work=${DELVE_SUITE_WORK:-$repo/build/delve-suite}
timeout=${DELVE_SUITE_TIMEOUT:-60m}
packages="pkg/proc"
run=""
servers="gostub lldb-server"
while [ $# -gt 0 ]; do
  case "$1" in
    --packages) packages=$2; shift 2 ;;
    --run) run=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    *) echo "usage: $0 [--packages LIST] [--run REGEX] [--servers LIST]" >&2; exit 2 ;;
  esac
done

deps=(golang-github-cilium-ebpf-dev golang-github-cosiner-argv-dev golang-github-creack-pty-dev
  golang-github-derekparker-trie-dev golang-github-go-delve-liner-dev
  golang-github-google-go-dap-dev golang-github-hashicorp-golang-lru-dev
  golang-github-mattn-go-isatty-dev golang-github-sirupsen-logrus-dev
  golang-github-spf13-cobra-dev golang-golang-x-arch-dev golang-golang-x-sys-dev
  golang-gopkg-yaml.v2-dev golang-starlark-dev lsof)

mkdir -p "$work/results"
src_root="$work/gopath/src/github.com/go-delve"
if [ ! -d "$src_root/delve" ]; then
  if ! apt-get source --download-only delve >/dev/null 2>&1 </dev/null; then
    # No deb-src entry yet: derive one from the machine's own deb822 sources.
    derived=/etc/apt/sources.list.d/gostub-derived-deb-src.sources
    for f in /etc/apt/sources.list.d/*.sources; do
      [ "$f" = "$derived" ] && continue
      sed -n 's/^Types: deb$/Types: deb-src/;p' "$f"
      echo
    done > "$derived"
    apt-get update -qq
  fi
  mkdir -p "$work/source" "$src_root"
  (cd "$work/source" && apt-get source delve </dev/null)
  # In GOPATH itself, not linked: the tests compare the fixtures' paths in DWARF with their own.
  mv "$(ls -d "$work"/source/delve-*/ | head -1)" "$src_root/delve"
fi
missing=()
for p in "${deps[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

export GOPATH="$work/gopath:/usr/share/gocode" GO111MODULE=off GOFLAGS="" GOTOOLCHAIN=local
export GOCACHE="$work/gocache" CGO_ENABLED=1
# The fixtures are built by the tests with the `go` on PATH.
gobin="$work/gobin"
mkdir -p "$gobin"
ln -sfn "$go" "$gobin/go"
delve_dir="$src_root/delve"
# Delve's eBPF tracing (`trace --ebpf`) needs Go files that `go generate` makes with clang and
# bpftool; pkg/proc's tests do not use it, so this copy is built without it (a build tag).
ebpf="$delve_dir/pkg/proc/internal/ebpf"
if ! ls "$ebpf"/trace_bpfel_*.go >/dev/null 2>&1 && ! grep -q delve_ebpf "$ebpf/helpers.go"; then
  sed -i -e 's#^//go:build linux && amd64 && go1.16$#& \&\& delve_ebpf#' \
    -e 's#^// +build linux,amd64,go1.16$#&,delve_ebpf#' "$ebpf/helpers.go"
  sed -i -e 's#^//go:build !linux || !amd64 || !go1.16$#& || !delve_ebpf#' \
    -e 's#^// +build !linux !amd64 !go1.16$#& !delve_ebpf#' "$ebpf/helpers_disabled.go"
fi

for package in $packages; do
  name=${package//\//_}
  test_binary="$work/$name.test"
  (cd "$delve_dir" && PATH="$gobin:$PATH" "$go" test -c -o "$test_binary" "./$package")
  for server in $servers; do
    case "$server" in
      gostub) target=$gostub ;;
      lldb-server) target=$lldb_server ;;
      *) echo "unknown server $server" >&2; exit 2 ;;
    esac
    bin="$work/bin-$server"
    mkdir -p "$bin"
    ln -sfn "$target" "$bin/lldb-server"
    log="$work/results/$server-$name.log"
    echo "== $package against $server ($log)"
    (cd "$delve_dir/$package" &&
      PATH="$bin:$gobin:$PATH" "$test_binary" -test.v -test.count=1 -test.timeout="$timeout" \
        ${run:+-test.run "$run"} -backend=lldb </dev/null >"$log" 2>&1) || true
    grep -cE '^\s*--- PASS' "$log" | sed "s/^/   passed: /"
    grep -cE '^\s*--- FAIL' "$log" | sed "s/^/   failed: /"
    grep -cE '^\s*--- SKIP' "$log" | sed "s/^/   skipped: /"
  done
done

# One row per test: its outcome under each server (top-level tests; subtests fold in).
python3 - "$work/results" $servers <<'EOF'
import re, sys
from pathlib import Path
results, servers = Path(sys.argv[1]), sys.argv[2:]
outcome = {}
for server in servers:
    for log in sorted(results.glob(f"{server}-*.log")):
        package = log.stem[len(server) + 1:].replace("_", "/")
        text = log.read_text(errors="replace")
        for m in re.finditer(r"^--- (PASS|FAIL|SKIP): (\S+)", text, re.M):
            outcome.setdefault((package, m.group(2)), {})[server] = m.group(1)
        # A panic or timeout ends the run: the test that was running is a failure.
        running = re.findall(r"^=== RUN\s+(\S+)$", text, re.M)
        if running and (re.search(r"^panic: |test timed out", text, re.M)):
            last = running[-1].split("/")[0]
            outcome.setdefault((package, last), {}).setdefault(server, "FAIL (crash)")
rows = ["| package | test | " + " | ".join(servers) + " |",
        "|---|---|" + "---|" * len(servers)]
for (package, test), by in sorted(outcome.items()):
    rows.append(f"| {package} | {test} | " + " | ".join(by.get(s, "not run") for s in servers) + " |")
summary = []
for s in servers:
    counts = {}
    for by in outcome.values():
        counts[by.get(s, "not run")] = counts.get(by.get(s, "not run"), 0) + 1
    summary.append(f"- {s}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
if len(servers) == 2:
    a, b = servers
    worse = [t for t, by in sorted(outcome.items()) if by.get(b) == "PASS" and by.get(a) != "PASS"]
    summary.append(f"- passed by {b} but not by {a}: {len(worse)}" +
                   "".join(f"\n  - {p} {t}" for p, t in worse))
(results.parent / "table.md").write_text("\n".join(summary) + "\n\n" + "\n".join(rows) + "\n")
print("\n".join(summary))
EOF
echo "table: $work/table.md"
