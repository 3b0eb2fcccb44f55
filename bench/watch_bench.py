"""A watched word written 10,000 times by a goroutine on its own OS thread, every hit reported
to gdb 13: the session's wall time and the server's CPU time per hit, gostub against GNU
gdbserver, servers interleaved, medians of N runs.

    python3 bench/watch_bench.py [--repeat N] [--writes N]

A machine that accepts the debug registers but never delivers their traps (some virtual
machines) reports no hits through either server: the script says so instead of timing."""

import argparse
import re
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import harness  # noqa: E402
from harness import DebugServer, fixture  # noqa: E402
from rsp_bench import cpu_seconds  # noqa: E402


def session(kind, binary, writes):
    commands = [
        "break main.writer", "continue", "watch 'main.counter'",
        "python",
        "hits = 0",
        f"for _ in range({writes}):",
        "    if 'New value' not in gdb.execute('continue', to_string=True): break",
        "    hits += 1",
        "print('hits', hits)",
        "end",
        "kill",
    ]
    with DebugServer(kind, [binary, "watch", str(writes)]) as server:
        pid = server.process.pid
        last = [0.0]
        done = threading.Event()

        def sampler():
            while not done.is_set():
                try:
                    last[0] = cpu_seconds(pid)
                except (FileNotFoundError, ProcessLookupError):
                    pass
                time.sleep(0.01)

        thread = threading.Thread(target=sampler)
        thread.start()
        start = time.perf_counter()
        try:
            out = harness.run_gdb(binary, server.port, commands, timeout=3600)
        finally:
            done.set()
            thread.join()
        wall = time.perf_counter() - start
    match = re.search(r"^hits (\d+)$", out, re.M)
    return {"wall": wall, "cpu": last[0], "hits": int(match.group(1)) if match else 0}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writes", type=int, default=10000)
    args = parser.parse_args()
    binary = fixture("watchfixture")
    results = {"gostub": [], "gdbserver": []}
    for _ in range(args.repeat):
        for kind in results:
            results[kind].append(session(kind, binary, args.writes))
    print("| server | hits reported | session wall | server CPU | server CPU per hit |")
    print("|---|---|---|---|---|")
    for kind, runs in results.items():
        hits = statistics.median(r["hits"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        per_hit = f"{cpu / hits * 1e6:.0f} µs" if hits else "– (no hits)"
        print(f"| {kind} | {hits:.0f} | {wall:.2f} s | {cpu:.2f} s | {per_hit} |")
    if all(r["hits"] == 0 for runs in results.values() for r in runs):
        print("\nNo watchpoint fired through either server: this machine does not deliver "
              "debug-register traps.")


if __name__ == "__main__":
    main()
