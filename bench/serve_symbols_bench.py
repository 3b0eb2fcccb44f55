"""Serving symbols for stripped Go programs (issue 16): gdb with no copy of the program connects
to gostub, which serves the program with the symbols, lines and frames it rebuilds from
pclntab; the session asks for one line. Reported: the image's making (gostub symbols, CPU and
peak memory), and the served session (wall, and the server's peak RSS beside its RSS with the
same program and no client reading it): anonymous memory plus the in-memory tail, beside
the program's pclntab. Medians of N runs.

    python3 bench/serve_symbols_bench.py [--repeat N]
"""

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import harness  # noqa: E402
from harness import GOSTUB, DebugServer  # noqa: E402

PROGRAMS = {"restic": ["version"], "prometheus": ["--version"], "hugo": ["version"],
            "docker.io": ["--version"]}


def status_kib(pid, field):
    match = re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


def own_memory(pid):
    """What the server holds of its own, in MiB: anonymous memory and the in-memory tail
    (memfd). Pages of the program's file it maps are shared page cache (the program runs from
    the same file), counted in RSS but not here."""
    return (status_kib(pid, "RssAnon") + status_kib(pid, "RssShmem")) / 1024


def pclntab_mib(binary):
    out = subprocess.run([str(GOSTUB), "info", str(binary)], capture_output=True,
                         text=True).stdout
    match = re.search(r"pclntab\t.*, (\d+) MiB\)", out)
    return int(match.group(1)) if match else None


def make_image(binary):
    start = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", str(GOSTUB), "symbols", str(binary),
                          "-o", "/tmp/gostub-bench.debug"], capture_output=True, text=True,
                         check=True)
    wall = time.perf_counter() - start
    user, system, peak_kib = run.stderr.strip().splitlines()[-1].split()
    return {"wall": wall, "cpu": float(user) + float(system), "peak": int(peak_kib) / 1024}


def served_session(binary, arguments):
    with DebugServer("gostub", [binary, *arguments]) as server:
        pid = server.process.pid
        harness.wait_for(lambda: "Listening" in server.output())
        time.sleep(3)  # the image is made in the background as the program is launched
        before = own_memory(pid)
        peak = [0]
        import threading
        done = threading.Event()

        def sample():
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], own_memory(pid))
                except OSError:
                    pass
                time.sleep(0.02)
        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.perf_counter()
        out = harness.run_gdb(None, server.port, ["info line main.main", "kill"], timeout=300)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    if "Line " not in out or "main.main" not in out:
        raise RuntimeError(out[-300:])
    return {"wall": wall, "rss_idle": before, "peak": peak[0]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print("| program | size | pclntab | image: wall | image: CPU | image: peak RSS "
          "| served session (gdb, no local file) | server memory before | server memory, peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    for package, arguments in PROGRAMS.items():
        binary = harness.debian_go_program(package)
        made = [make_image(binary) for _ in range(options.repeat)]
        served = [served_session(binary, arguments) for _ in range(options.repeat)]

        def med(runs, key):
            return statistics.median(r[key] for r in runs)
        print(f"| {binary.name} | {binary.stat().st_size / 2**20:.0f} MiB | "
              f"{pclntab_mib(binary)} MiB | {med(made, 'wall'):.2f} s | {med(made, 'cpu'):.2f} s | "
              f"{med(made, 'peak'):.0f} MiB | {med(served, 'wall'):.2f} s | "
              f"{med(served, 'rss_idle'):.0f} MiB | {med(served, 'peak'):.0f} MiB |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
