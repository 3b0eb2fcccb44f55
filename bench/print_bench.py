"""`monitor print` of a 10,000-entry map[int]int (tests/fixtures/printfixture's bigMap, Go
1.19 and 1.23) over raw RSP: the whole map (-n 10000) and Delve's default of 64 entries, each
a fresh qRcmd on a program stopped at main.inspect's marker line. Medians of wall time and of
the server's CPU time (from /proc); the goal is < 50 ms for the whole map. The first call
also reads the binary's DWARF index (globals, functions, type names) once.

    python3 bench/print_bench.py [--repeat N]
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import harness  # noqa: E402
from harness import DebugServer, RspClient, fixture, line_of  # noqa: E402
from rsp_bench import cpu_seconds  # noqa: E402


def stop_address(binary):
    line = f":{line_of('inspect', 'printfixture') + 1}"
    out = subprocess.run([str(harness.GOSTUB), "lines", str(binary), "main.inspect"],
                         capture_output=True, text=True, check=True).stdout
    return next(int(row.split()[0], 16) for row in out.splitlines() if row.endswith(line))


def measure(go, commands, repeat):
    binary = fixture("printfixture", go=go, flavour="debug")
    server = DebugServer("gostub", [binary])
    try:
        client = RspClient(server.port, timeout=300)
        client.request("qSupported:multiprocess+;swbreak+")
        client.no_ack()
        client.request(f"Z0,{stop_address(binary):x},1")
        reply = client.request("vCont;c")
        while not reply.startswith("T05"):
            reply = client.request(f"vCont;C{reply[1:3]};c" if reply[0] == "T" else "vCont;c")
        results = {}
        for command in commands:
            walls, cpus = [], []
            for _ in range(repeat):
                cpu, wall = cpu_seconds(server.process.pid), time.perf_counter()
                client.console = ""
                client.request("qRcmd," + command.encode().hex())
                walls.append(time.perf_counter() - wall)
                cpus.append(cpu_seconds(server.process.pid) - cpu)
            text = client.console
            if "map[int]int [" not in text:
                raise RuntimeError(f"gostub said: {text[:300]!r}")
            results[command] = (statistics.median(walls), statistics.median(cpus),
                                text.count(": "), walls[0])
        client.close()
        return results
    finally:
        server.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    commands = ["print -n 10000 bigMap", "print bigMap"]
    print("| Go | command | entries shown | wall (median) | server CPU (median) | first call |")
    print("|---|---|---|---|---|---|")
    for go in [v for v in ("1.19", "1.23") if v in harness.available_toolchains()]:
        for command, (wall, cpu, shown, first) in measure(go, commands, args.repeat).items():
            print(f"| {go} | `monitor {command}` | {shown} | {wall * 1e3:.1f} ms | "
                  f"{cpu * 1e3:.1f} ms | {first * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
