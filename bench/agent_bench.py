"""Issue 14's hits nobody needs to see, as the program feels them: workers report operations
per second while another goroutine calls main.handle RATE times a second, on which gdb set an
agent dprintf, a false-condition breakpoint, a tracepoint collecting $regs or nothing, through
gostub and GNU gdbserver (runs interleaved, medians of N). Reported: each case's throughput as a
ratio of the same server with no breakpoint (the program run without a debugger is printed too,
but a lone run is noisier on a shared machine), and the workers' loss per hit ((1 - ratio) *
workers / rate). gdbserver passes a false condition and a tracepoint hit by stopping every
thread; its agent dprintf fails gdb's own dprintf.exp checks, so its dprintf column is gdb's
host-style dprintf. The hitting thread's own cost is bench/hit_cost_bench.py's.

Shared machine: the load average is printed with the figures; never run it as a test.

    python3 bench/agent_bench.py [--seconds 5] [--rate 1000] [--workers 1] [--repeat 3]
                                 [--cases 'false condition' 'tracepoint $regs' ...]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from harness import GDB_PREAMBLE, DebugServer, fixture, line_of  # noqa: E402

HANDLE = line_of("handle", "agentfixture")
CASES = {
    "none": [],
    "false condition": [f"break main.go:{HANDLE} if req.ID == -1"],
    "dprintf (agent)": ["set dprintf-style agent", f'dprintf main.go:{HANDLE},"id=%d\\n", req.ID'],
    "dprintf (gdb)": ["set dprintf-style gdb", f'dprintf main.go:{HANDLE},"id=%d\\n", req.ID'],
    # Circular: a 5 MB buffer would fill in a few seconds and end the run.
    "tracepoint $regs": ["set circular-trace-buffer on", f"trace main.go:{HANDLE}", "actions",
                         "collect $regs", "end", "tstart"],
}


def throughput(text):
    match = re.search(r"ops/s (\d+)", text)
    return float(match.group(1)) if match else float("nan")


def served_output(kind, binary, args, commands):
    """What the program printed, run under server `kind` with gdb sending `commands` and then
    letting it run to its end."""
    with DebugServer(kind, [binary, *args]) as server:
        script = tempfile.NamedTemporaryFile("w", suffix=".gdb", delete=False)
        script.write("\n".join(GDB_PREAMBLE + [f"target remote 127.0.0.1:{server.port}",
                                               *commands, "continue"]) + "\n")
        script.close()
        subprocess.run(["gdb", "-nx", "-batch", "-x", script.name, str(binary)],
                       capture_output=True, text=True, timeout=600)
        os.unlink(script.name)
        server.wait(timeout=60)
        return server.output()


def run(kind, binary, args, commands):
    if kind is None:
        out = subprocess.run([str(binary), *args], capture_output=True, text=True, check=True)
        return throughput(out.stdout)
    return throughput(served_output(kind, binary, args, commands))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES),
                        help="the cases to run besides none (default: all)")
    options = parser.parse_args()
    binary = fixture("agentfixture", flavour="default")
    args = ["bench", str(options.seconds), str(options.rate), str(options.workers)]
    print(f"load average before: {os.getloadavg()}")
    results = {}
    for _ in range(options.repeat):
        results.setdefault(("none", None), []).append(run(None, binary, args, []))
        for case, commands in CASES.items():
            if case != "none" and case not in options.cases:
                continue
            for kind in ["gostub", "gdbserver"]:
                if kind == "gdbserver" and case == "dprintf (agent)":
                    continue
                results.setdefault((case, kind), []).append(run(kind, binary, args, commands))
    base = statistics.median(results[("none", None)])
    print(f"{options.workers} worker(s), handle() {options.rate}/s, {options.seconds} s, "
          f"median of {options.repeat}; undebugged: {base:.0f} ops/s")
    print(f"{'case':<18} {'server':<10} {'ops/s':>10} {'ratio':>7} {'cost/hit':>10}")
    for (case, kind), values in results.items():
        if kind is None:
            continue
        ops = statistics.median(values)
        ratio = ops / statistics.median(results[("none", kind)])
        cost = (1 - ratio) * options.workers / options.rate * 1e6
        print(f"{case:<18} {kind:<10} {ops:>10.0f} {ratio:>7.3f} {cost:>8.1f}µs")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
