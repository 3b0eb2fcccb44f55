"""What a hit nobody needs to see costs the thread that hits it (issue 14), next to the physical
floor. One goroutine, locked to its OS thread, calls main.handle N times and times its loop
(`agentfixture hitcost N`); gdb set nothing, a false-condition breakpoint, an agent dprintf or a
tracepoint collecting $regs (circular buffer, so it never fills) there, through gostub and GNU
gdbserver. Per-hit cost = (time per call with it - time per call with nothing) on the same
server. The floor is bench/ptrace_floor.c: a minimal tracer that resumes an int3 with
PTRACE_CONT (and with the GETREGS/SETREGS any server does), timed by the child as well.

Shared machine: the load average is printed with the figures; never run it as a test.

    python3 bench/hit_cost_bench.py [--hits 5000] [--repeat 3]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from agent_bench import served_output  # noqa: E402
from harness import BUILD, fixture, line_of  # noqa: E402

HANDLE = line_of("handle", "agentfixture")
CASES = {
    "none": [],
    "false condition": [f"break main.go:{HANDLE} if req.ID == -1"],
    "dprintf (agent)": ["set dprintf-style agent", f'dprintf main.go:{HANDLE},"id=%d\\n", req.ID'],
    "tracepoint $regs": ["set circular-trace-buffer on", f"trace main.go:{HANDLE}", "actions",
                         "collect $regs", "end", "tstart"],
    "tracepoint $regs, req.ID": ["set circular-trace-buffer on", f"trace main.go:{HANDLE}",
                                 "actions", "collect $regs, req.ID", "end", "tstart"],
}
FLOOR_SOURCE = Path(__file__).resolve().parent / "ptrace_floor.c"


def floor(hits):
    binary = BUILD / "bench" / "ptrace_floor"
    binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cc", "-O2", "-o", str(binary), str(FLOOR_SOURCE)], check=True)
    out = subprocess.run([str(binary), str(hits)], capture_output=True, text=True, check=True)
    return {name: float(value) for name, value in re.findall(r"(?m)^(\S+) ([\d.]+) us$", out.stdout)}


def per_call_ns(text):
    match = re.search(r"hitcost \d+ calls (\d+) ns/call", text)
    return float(match.group(1)) if match else float("nan")


def run(kind, binary, hits, commands):
    return per_call_ns(served_output(kind, binary, ["hitcost", str(hits)], commands))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hits", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    binary = fixture("agentfixture", flavour="default")
    print(f"load average before: {os.getloadavg()}")
    floors = {}
    results = {}
    for _ in range(options.repeat):
        for name, value in floor(options.hits * 4).items():
            floors.setdefault(name, []).append(value)
        for case, commands in CASES.items():
            for kind in ["gostub", "gdbserver"]:
                if kind == "gdbserver" and case == "dprintf (agent)":
                    continue  # gdbserver fails gdb's own agent-dprintf checks (PERFORMANCE.md)
                results.setdefault((case, kind), []).append(run(kind, binary, options.hits,
                                                                commands))
    print(f"{options.hits} hits on one thread, median of {options.repeat}")
    for name, values in floors.items():
        print(f"floor {name:<28} {statistics.median(values):>8.1f} µs")
    print(f"{'case':<26} {'server':<10} {'ns/call':>10} {'cost/hit':>10}")
    for (case, kind), values in results.items():
        ns = statistics.median(values)
        base = statistics.median(results[("none", kind)])
        cost = (ns - base) / 1000
        print(f"{case:<26} {kind:<10} {ns:>10.0f} {cost:>8.1f}µs")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
