"""Where a user waits: one command's time as gdb 13 and lldb-19 see it, against gostub, GNU
gdbserver and lldb-server-19, servers interleaved, medians of N runs.

Unlike client_bench.py (whole batch sessions), the clock runs inside the client around the
one command a user waits for (a continue through 1000 ignored hits, 500 `next`s, `info
threads`), so connecting and loading symbols do not count. Beside the wall time, the server's
CPU time over the same span, from /proc/PID/task/*/schedstat (nanoseconds, all threads).

    python3 bench/stop_bench.py [--repeat N] [--only TEXT]
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import harness  # noqa: E402
from harness import DebugServer, fixture  # noqa: E402

SOURCE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "gofixture" / "main.go"


def count_loop_line():
    """The inner one-line loop of countCalls (`spin += j`), where `next` goes round."""
    lines = SOURCE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("func countCalls"))
    return next(i + 1 for i in range(start, len(lines)) if "spin += j" in lines[i])


# Python run inside the client: the server's CPU (ns, every thread) and a monotonic clock.
PROBE = ("import time, glob\n"
         "def _cpu(pid):\n"
         "    total = 0\n"
         "    for f in glob.glob(f'/proc/{pid}/task/*/schedstat'):\n"
         "        try: total += int(open(f).read().split()[0])\n"
         "        except OSError: pass\n"
         "    return total\n")


def gdb_timed(pid, setup, timed):
    """gdb commands: `setup`, then `timed` between two probes that print the span."""
    probe = PROBE.replace("\n", "\\n").replace("'", "\\'")
    return setup + [
        f"python exec('{probe}'); _t0 = (time.perf_counter(), _cpu({pid}))",
        *timed,
        f"python print('SPAN %.6f %.6f' % (time.perf_counter() - _t0[0], (_cpu({pid}) - _t0[1]) / 1e9))",
        "kill"]


def lldb_timed(pid, setup, timed):
    probe = PROBE.replace("\n", "\\n").replace("'", "\\'")
    return setup + [
        f"script exec('{probe}'); _t0 = (time.perf_counter(), _cpu({pid}))",
        *timed,
        f"script print('SPAN %.6f %.6f' % (time.perf_counter() - _t0[0], (_cpu({pid}) - _t0[1]) / 1e9))",
        "process kill"]


NEXTS = "python\nfor _ in range(500): gdb.execute('next', to_string=True)\nend"

# (name, client, program arguments, setup commands, timed commands, check on the output)
SCENARIOS = [
    ("gdb: ignore 1000 + continue", "gdb", ["count", "1200"],
     ["break main.hit", "continue", "ignore 1 1000"], ["continue"],
     lambda out: "Breakpoint 1, main.hit" in out.split("SPAN")[0].rsplit("Will ignore", 1)[-1]),
    ("gdb: ignore 1000 + continue, nothing else running", "gdb", ["count", "1200", "0"],
     ["break main.hit", "continue", "ignore 1 1000"], ["continue"],
     lambda out: "Breakpoint 1, main.hit" in out.split("SPAN")[0].rsplit("Will ignore", 1)[-1]),
    ("lldb: breakpoint -i 500 + continue", "lldb", ["count", "1200"],
     ["process handle SIGURG -p true -s false -n false", "breakpoint set -n main.hit",
      "continue", "breakpoint modify -i 500 1"], ["continue"],
     lambda out: "hit count = 502" in out or "stop reason = breakpoint" in out.split("SPAN")[0]),
    ("lldb: breakpoint -i 500 + continue, nothing else running", "lldb", ["count", "1200", "0"],
     ["process handle SIGURG -p true -s false -n false", "breakpoint set -n main.hit",
      "continue", "breakpoint modify -i 500 1"], ["continue"],
     lambda out: "stop reason = breakpoint" in out.split("SPAN")[0]),
    ("gdb: next over a one-line loop, 500 times", "gdb", ["count", "1200", "0"],
     [f"break main.go:{count_loop_line()}", "continue", "delete"], NEXTS.split("\n"),
     lambda out: "SPAN" in out),
    # $goid exists on gostub only: the same filter evaluated by gostub and by gdb.
    ("gdb: break if $goid == N, 8 goroutines, 100 hits of N, evaluated by gostub", "gdb",
     ["threads", "8", "400"],
     ["set breakpoint condition-evaluation target", "break main.hit", "ignore 1 20", "continue",
      "python gdb.execute('condition 1 $goid == %d' % int(gdb.parse_and_eval('$goid')))"],
     ["continue 100"], lambda out: out.count("hit Breakpoint 1") == 2),
    ("gdb: break if $goid == N, 8 goroutines, 100 hits of N, evaluated by gdb", "gdb",
     ["threads", "8", "400"],
     ["set breakpoint condition-evaluation host", "break main.hit", "ignore 1 20", "continue",
      "python gdb.execute('condition 1 $goid == %d' % int(gdb.parse_and_eval('$goid')))"],
     ["continue 100"], lambda out: out.count("hit Breakpoint 1") == 2),
    ("gdb: info threads, 50 OS threads", "gdb", ["os-threads", "48", "4"],
     ["break main.square", "continue"], ["info threads"],
     lambda out: "Thread" in out.split("SPAN")[0]),
    ("gdb: thread apply all bt, 50 OS threads", "gdb", ["os-threads", "48", "4"],
     ["break main.square", "continue"], ["thread apply all bt"],
     lambda out: "main.square" in out),
]
SERVERS = {"gdb": ["gostub", *(["gostub-baseline"] if harness.GOSTUB_BASELINE else []),
                   "gdbserver"],
           "lldb": ["gostub", *(["gostub-baseline"] if harness.GOSTUB_BASELINE else []),
                    "lldb-server"]}


def servers_for(name, client):
    return ["gostub"] if "$goid" in name else SERVERS[client]


def measure(kind, client, args, setup, timed, check):
    binary = fixture()
    with DebugServer(kind, [binary, *args]) as server:
        pid = server.process.pid
        if client == "gdb":
            out = harness.run_gdb(binary, server.port, gdb_timed(pid, setup, timed), timeout=300)
        else:
            out = harness.run_lldb(binary, server.port, lldb_timed(pid, setup, timed),
                                   timeout=300)
    spans = [line.split() for line in out.splitlines() if line.startswith("SPAN ")]
    if not spans or not check(out):
        lines = [line for line in out.splitlines() if line.strip()]
        raise RuntimeError((lines[-1] if lines else "no output")[:70])
    return {"wall": float(spans[-1][1]), "cpu": float(spans[-1][2])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    options = parser.parse_args()
    print("| scenario | server | wall (median) | server CPU | wall ratio | CPU ratio |")
    print("|---|---|---|---|---|---|")
    for name, client, args, setup, timed, check in SCENARIOS:
        if options.only and options.only not in name:
            continue
        results = {kind: [] for kind in servers_for(name, client)}
        for _ in range(options.repeat):
            for kind in servers_for(name, client):
                try:
                    results[kind].append(measure(kind, client, args, setup, timed, check))
                except Exception as error:  # a server the client cannot use is a result
                    results[kind].append({"error": str(error)[:70]})
        medians = {}
        for kind, runs in results.items():
            good = [r for r in runs if "error" not in r]
            medians[kind] = ({k: statistics.median(r[k] for r in good) for k in ("wall", "cpu")}
                             if good else None)
        reference = medians[servers_for(name, client)[-1]]
        for kind, runs in results.items():
            m = medians[kind]
            if m is None:
                print(f"| {name} | {kind} | fails ({runs[0]['error']}) | | | |")
                continue
            wall_ratio = f"{m['wall'] / reference['wall']:.2f}" if reference else "–"
            cpu_ratio = (f"{m['cpu'] / reference['cpu']:.2f}"
                         if reference and reference["cpu"] > 0 else "–")
            print(f"| {name} | {kind} | {m['wall'] * 1000:.1f} ms | {m['cpu'] * 1000:.1f} ms "
                  f"| {wall_ratio} | {cpu_ratio} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
