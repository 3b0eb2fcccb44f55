"""Listing 10,000 goroutines: gostub (`monitor goroutines` over raw RSP) side by side with
Delve (`ListGoroutines` over its JSON-RPC API, what `dlv goroutines` calls), on the same Go
1.19 program stopped at the same breakpoint. Each run is a fresh stop, so nothing is cached;
servers interleaved; medians of wall time and of the server's CPU time (from /proc).

    python3 bench/goroutines_bench.py [--repeat N] [--goroutines N]
"""

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import harness  # noqa: E402
from harness import DebugServer, RspClient, fixture, free_port  # noqa: E402
from rsp_bench import cpu_seconds, peak_rss_mib  # noqa: E402


def breakpoint_address(binary):
    out = subprocess.run([str(harness.GOSTUB), "functions", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    return next(int(line.split()[0], 16) for line in out.splitlines()
                if line.split()[2] == "main.stacksDumped")


def gostub_run(binary, count, command):
    dump = Path(tempfile.mkdtemp()) / "stacks.txt"
    server = DebugServer("gostub", [binary, "goroutines", count, dump])
    try:
        client = RspClient(server.port, timeout=300)
        client.request("qSupported:multiprocess+;swbreak+")
        client.no_ack()
        client.request(f"Z0,{breakpoint_address(binary):x},1")
        reply = client.request("vCont;c")
        while not reply.startswith("T05"):  # SIGURG and friends go back to the program
            reply = client.request(f"vCont;C{reply[1:3]};c" if reply[0] == "T" else "vCont;c")
        cpu, wall = cpu_seconds(server.process.pid), time.perf_counter()
        client.console = ""
        reply = client.request("qRcmd," + command.encode().hex())
        text = client.console
        wall, cpu = time.perf_counter() - wall, cpu_seconds(server.process.pid) - cpu
        if "[" not in text:
            raise RuntimeError(f"gostub said: {text[-500:]!r} then {reply!r}")
        listed = int(text.rsplit("[", 1)[1].split()[0])
        rss = peak_rss_mib(server.process.pid)
        client.close()
        return {"wall": wall, "cpu": cpu, "listed": listed, "rss": rss}
    finally:
        server.close()


class DelveClient:
    """Delve's JSON-RPC 2 API (net/rpc/jsonrpc: one JSON object per call and reply)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=300)
        self.decoder = json.JSONDecoder()
        self.buffer = ""
        self.id = 0

    def call(self, method, params):
        self.id += 1
        self.sock.sendall(json.dumps({"method": "RPCServer." + method, "params": [params],
                                      "id": self.id}).encode())
        while True:
            try:
                reply, end = self.decoder.raw_decode(self.buffer.lstrip())
                self.buffer = self.buffer.lstrip()[end:]
                if reply.get("error"):
                    raise RuntimeError(f"delve: {method}: {reply['error']}")
                return reply["result"]
            except json.JSONDecodeError:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("delve closed the connection")
                self.buffer += chunk.decode()


def delve_run(binary, count):
    dump = Path(tempfile.mkdtemp()) / "stacks.txt"
    port = free_port()
    server = subprocess.Popen(
        ["dlv", "exec", "--headless", "--api-version=2", "--accept-multiclient",
         f"--listen=127.0.0.1:{port}", str(binary), "--", "goroutines", str(count), str(dump)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                client = DelveClient(port)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        client.call("CreateBreakpoint", {"Breakpoint": {"functionName": "main.stacksDumped"}})
        client.call("Command", {"name": "continue"})
        cpu, wall = cpu_seconds(server.pid), time.perf_counter()
        result = client.call("ListGoroutines", {"Start": 0, "Count": 0})
        wall, cpu = time.perf_counter() - wall, cpu_seconds(server.pid) - cpu
        rss = peak_rss_mib(server.pid)
        return {"wall": wall, "cpu": cpu, "listed": len(result["Goroutines"]), "rss": rss}
    finally:
        server.kill()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--goroutines", type=int, default=10000)
    args = parser.parse_args()
    binary = fixture(go="1.19", flavour="default")
    runs = {"gostub (ids, status, location)": lambda: gostub_run(binary, args.goroutines,
                                                                 "goroutines"),
            "gostub (count only)": lambda: gostub_run(binary, args.goroutines,
                                                     "goroutines -n 0")}
    if shutil.which("dlv"):
        runs["delve ListGoroutines"] = lambda: delve_run(binary, args.goroutines)
    results = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, run in runs.items():
            results[name].append(run())
    print(f"| {args.goroutines} parked goroutines, Go 1.19 | goroutines listed | wall | "
          f"server CPU | peak RSS |")
    print("|---|---|---|---|---|")
    for name, measured in results.items():
        def median(key):
            return statistics.median(m[key] for m in measured)
        print(f"| {name} | {measured[0]['listed']} | {median('wall') * 1e3:.1f} ms | "
              f"{median('cpu') * 1e3:.0f} ms | {median('rss'):.1f} MiB |")


if __name__ == "__main__":
    main()
