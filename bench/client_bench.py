"""What users feel: whole gdb 13 and lldb-19 sessions against gostub, GNU gdbserver and
lldb-server-19, servers interleaved, medians of N runs. Each scenario is one batch session
(connect, run to the scene, do it, kill); the figures are that session's wall time and the
server's CPU time (from /proc, taken just before the server exits). gdb cannot drive
lldb-server's breakpoints and lldb cannot use gdbserver's: such cells say "fails", which is a
result too.

    python3 bench/client_bench.py [--repeat N] [--only TEXT]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import harness  # noqa: E402
from harness import DebugServer, fixture  # noqa: E402
from rsp_bench import cpu_seconds  # noqa: E402

DUMP = Path(tempfile.mkdtemp()) / "dump.bin"
STACKS = Path(tempfile.mkdtemp()) / "stacks.txt"


def buffer_pointer():
    """The fixture's main.bufferAddress, as a C expression both debuggers evaluate."""
    out = subprocess.run(["nm", str(fixture())], capture_output=True, text=True).stdout
    address = next(line.split()[0] for line in out.splitlines()
                   if line.endswith(" main.bufferAddress"))
    return f"*(long*)0x{address}"


def buffer_address_word():
    out = subprocess.run(["nm", str(fixture())], capture_output=True, text=True).stdout
    return int(next(line.split()[0] for line in out.splitlines()
                    if line.endswith(" main.bufferAddress")), 16)


# (name, client, program arguments, gostub options, commands, check: output -> bool)
SCENARIOS = [
    ("ignore 1000 + continue", "gdb", ["count", "1200"], [],
     ["break main.hit", "ignore 1 1000", "continue", "p worker", "kill"],
     lambda out: "$1 = " in out),  # gdbserver's double reports can make it less than 1000
    ("condition true once in 1000 hits, evaluated by the target", "gdb", ["count", "1000"], [],
     ["set breakpoint condition-evaluation target", "break main.hit if worker == 999",
      "continue", "p worker", "kill"], lambda out: "$1 = 999" in out),
    ("condition true once in 1000 hits, evaluated by gdb", "gdb", ["count", "1000"], [],
     ["set breakpoint condition-evaluation host", "break main.hit if worker == 999",
      "continue", "p worker", "kill"], lambda out: "$1 = 999" in out),
    ("dump binary memory, 64 MiB", "gdb", ["buffer", "64"], [],
     ["break main.square", "continue", "set language c",
      f"dump binary memory {DUMP} {buffer_pointer()} {buffer_pointer()}+67108864", "kill"],
     lambda out: DUMP.exists() and DUMP.stat().st_size == 64 << 20),
    ("info threads, 10k goroutines (as threads)", "gdb", ["goroutines", "10000", STACKS],
     ["--goroutine-threads"], ["break main.stacksDumped", "continue", "info threads", "kill"],
     lambda out: "hit Breakpoint 1" in out),
    # gdbserver shows the OS threads only: its rows are a baseline, not the same work.
    ("thread apply all bt 4, 10k goroutines (as threads)", "gdb",
     ["goroutines", "10000", STACKS], ["--goroutine-threads"],
     ["break main.stacksDumped", "continue", "thread apply all bt 4", "kill"],
     lambda out: "hit Breakpoint 1" in out),
    ("breakpoint -i 1000 + continue", "lldb", ["count", "1200"], [],
     ["breakpoint set -n main.hit -i 1000", "continue", "breakpoint list",
      "process kill"], lambda out: "hit count = 1001" in out),
    ("memory read 64 MiB to a file", "lldb", ["buffer", "64"], [],
     ["breakpoint set -n main.square", "continue",
      # lldb cannot evaluate expressions in a Go frame: its Python API reads the pointer.
      "script start = lldb.process.ReadPointerFromMemory("
      f"{buffer_address_word()}, lldb.SBError())",
      "script lldb.debugger.HandleCommand('memory read --force --binary --outfile "
      f"{DUMP} -c 67108864 %d' % start)", "process kill"],
     lambda out: DUMP.exists() and DUMP.stat().st_size == 64 << 20),
    ("thread list, 10k goroutines (as threads)", "lldb", ["goroutines", "10000", STACKS],
     ["--goroutine-threads"], ["breakpoint set -n main.stacksDumped", "continue",
                               "thread list", "process kill"],
     lambda out: "stop reason = breakpoint" in out),
]
BASELINE = ["gostub-baseline"] if harness.GOSTUB_BASELINE else []
SERVERS = {"gdb": ["gostub", *BASELINE, "gdbserver", "lldb-server"],
           "lldb": ["gostub", *BASELINE, "lldb-server", "gdbserver"]}


def measure(kind, client, args, options, commands, check):
    binary = fixture()
    DUMP.unlink(missing_ok=True)
    extra = options if kind.startswith("gostub") else []
    with DebugServer(kind, [binary, *args], extra=extra) as server:
        pid = server.process.pid
        last_cpu = [0.0]
        start = time.perf_counter()

        def sample():
            try:
                last_cpu[0] = cpu_seconds(pid)
            except (FileNotFoundError, ProcessLookupError):
                pass
        # The server exits with the session: its CPU time is sampled until then.
        runner = harness.run_gdb if client == "gdb" else harness.run_lldb
        import threading
        done = threading.Event()

        def sampler():
            while not done.is_set():
                sample()
                time.sleep(0.01)
        thread = threading.Thread(target=sampler)
        thread.start()
        try:
            out = runner(binary, server.port, commands, timeout=600)
        finally:
            done.set()
            thread.join()
        wall = time.perf_counter() - start
        sample()
        if not check(out):
            lines = [line for line in out.splitlines() if line.strip()]
            raise RuntimeError(lines[-1][:70] if lines else "no output")
        return {"wall": wall, "cpu": last_cpu[0]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    options = parser.parse_args()
    print("| client | scenario | server | session wall | server CPU | ratio to gdbserver (CPU) |")
    print("|---|---|---|---|---|---|")
    for name, client, args, gostub_options, commands, check in SCENARIOS:
        if options.only and options.only not in name:
            continue
        results = {kind: [] for kind in SERVERS[client]}
        for _ in range(options.repeat):
            for kind in SERVERS[client]:
                try:
                    results[kind].append(measure(kind, client, args, gostub_options, commands,
                                                 check))
                except Exception as error:  # a server the client cannot use is a result
                    results[kind].append({"error": str(error)[:70]})
        medians = {}
        for kind, runs in results.items():
            good = [r for r in runs if "error" not in r]
            medians[kind] = ({k: statistics.median(r[k] for r in good) for k in ("wall", "cpu")}
                             if good else None)
        reference = medians.get("gdbserver")
        for kind, runs in results.items():
            m = medians[kind]
            if m is None:
                print(f"| {client} | {name} | {kind} | fails ({runs[0]['error']}) | | |")
                continue
            ratio = (f"{m['cpu'] / reference['cpu']:.2f}"
                     if reference and reference["cpu"] > 0 else "–")
            print(f"| {client} | {name} | {kind} | {m['wall']:.2f} s | {m['cpu']:.2f} s | {ratio} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
