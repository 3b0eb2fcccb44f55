"""Side-by-side benchmark of gostub, GNU gdbserver and lldb-server-19 over raw RSP, with a
client of our own: the same packets to every server, servers interleaved, each scenario
repeated; medians, gostub/gdbserver ratios, server CPU time (from /proc, steadier than wall
time on a shared machine) and peak RSS.

    python3 bench/rsp_bench.py [--repeat N]      (scripts/bench.sh builds and runs it)
"""

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import harness  # noqa: E402
from harness import DebugServer, RspClient, fixture  # noqa: E402

SERVERS = ["gostub"] + (["gostub-baseline"] if harness.GOSTUB_BASELINE else []) + [
    "gdbserver", "lldb-server"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """The server's CPU time, every thread's, in nanoseconds from schedstat (utime and stime
    come in 10 ms ticks: too coarse for a 20 µs packet)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (OSError, IndexError, ValueError):
            pass
    if total == 0 and not Path(f"/proc/{pid}").exists():
        raise ProcessLookupError(pid)
    return total / 1e9


def peak_rss_mib(pid):
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


class Session:
    """A server on the fixture, a connected raw client in no-ack mode."""

    def __init__(self, kind, args):
        self.server = DebugServer(kind, [fixture(), *args])
        self.client = RspClient(self.server.port, timeout=120)
        features = self.client.request("qSupported:multiprocess+;swbreak+;xmlRegisters=i386")
        self.packet_size = int(re.search(r"PacketSize=([0-9a-f]+)", features).group(1), 16)
        self.has_x = kind != "gdbserver"  # gdbserver 13 offers no binary read
        self.client.no_ack()
        self.kind = kind
        self.tid = re.search(r"thread:(?:p[0-9a-f]+\.)?([0-9a-f]+);", self.client.request("?")).group(1)
        # What a user of each must say to keep Go's preemption signal from stopping the
        # session (gdb says it by default; gostub passes SIGURG whatever the client says).
        if kind == "lldb-server":
            self.client.request("QPassSignals:17")  # SIGURG, Linux's number
        elif kind == "gdbserver":
            self.client.request("QPassSignals:10")  # SIGURG, gdb's number

    def cpu(self):
        return cpu_seconds(self.server.process.pid)

    def symbol(self, name):
        return next(int(line.split()[0], 16) for line in harness.subprocess.run(
            [str(harness.GOSTUB), "functions", str(fixture())], capture_output=True,
            text=True).stdout.splitlines() if line.split()[2] == name)

    def resume_until_trap(self, action="vCont;c"):
        """Resumes; passes any other signal back, as gdb does (lldb-server reports every
        SIGURG, gdbserver those that land mid-step): a step is re-issued with the signal, a
        continue continues."""
        stepping = action.startswith("vCont;s")
        reply = self.client.request(action)
        while True:
            if reply[0] in "WX":
                raise RuntimeError(f"the program ended: {reply}")
            signal = int(reply[1:3], 16)
            if signal == 5:
                return reply
            tid = re.search(r"thread:(?:p[0-9a-f]+\.)?([0-9a-f]+);", reply).group(1)
            reply = self.client.request(f"vCont;S{signal:02x}:{tid}" if stepping
                                        else f"vCont;C{signal:02x}:{tid};c")

    def close(self):
        rss = peak_rss_mib(self.server.process.pid)
        self.client.close()
        self.server.close()
        return rss


def measure(kind, scenario):
    session = Session(kind, scenario.args)
    try:
        scenario.prepare(session)
        cpu, wall = session.cpu(), time.perf_counter()
        count = scenario.run(session)
        wall, cpu = time.perf_counter() - wall, session.cpu() - cpu
        wall = getattr(scenario, "measured_wall", None) or wall  # the part the scenario timed
        return {"wall": wall, "cpu": cpu, "count": count, "rss": session.close()}
    except Exception:
        session.close()
        raise


class RoundTrip:
    name, unit, args = "packet round trip (qC)", "µs", ["basics"]
    count = 3000

    def prepare(self, s):
        pass

    def run(self, s):
        for _ in range(self.count):
            s.client.request("qC")
        return self.count


class ReadWord(RoundTrip):
    name = "8-byte memory read (m)"

    def prepare(self, s):
        self.address = s.symbol("main.square")

    def run(self, s):
        for _ in range(self.count):
            s.client.request(f"m{self.address:x},8")
        return self.count


class ReadRegisters(RoundTrip):
    name = "g (all registers)"

    def run(self, s):
        for _ in range(self.count):
            s.client.request("g")
        return self.count


class BreakpointHits:
    """gdb's way: report, remove, step over, re-insert, continue."""
    name, unit, args = "breakpoint hit + step-over", "µs", ["count", "100000"]
    count = 400

    def prepare(self, s):
        self.address = s.symbol("main.hit")
        s.client.request(f"Z0,{self.address:x},1")
        s.resume_until_trap()

    def run(self, s):
        for _ in range(self.count):
            tid = re.search(r"thread:(?:p[0-9a-f]+\.)?([0-9a-f]+);",
                            s.client.request("?")).group(1)
            s.client.request(f"z0,{self.address:x},1")
            s.resume_until_trap(f"vCont;s:{tid}")
            s.client.request(f"Z0,{self.address:x},1")
            s.resume_until_trap()
        return self.count


class SingleSteps:
    name, unit, args = "single step", "µs", ["count", "100000"]
    count = 2000

    def prepare(self, s):
        s.client.request(f"Z0,{s.symbol('main.hit'):x},1")
        s.resume_until_trap()
        s.client.request(f"z0,{s.symbol('main.hit'):x},1")
        self.tid = re.search(r"thread:(?:p[0-9a-f]+\.)?([0-9a-f]+);", s.client.request("?")).group(1)

    def run(self, s):
        for _ in range(self.count):
            s.resume_until_trap(f"vCont;s:{self.tid}")
        return self.count


class MemoryRead:
    """64 MiB with the largest packets the server allows."""
    unit, args = "ms", ["buffer", "64"]
    size = 64 << 20

    def __init__(self, packet):
        self.packet = packet
        self.name = f"64 MiB memory read ({packet})"

    def prepare(self, s):
        s.client.request(f"Z0,{s.symbol('main.square'):x},1")
        s.resume_until_trap()
        # lldb-server hands the program's output to the client; the others leave it on stdout.
        printed = s.server.output() + s.client.console
        self.address = int(re.search(r"buffer=(0x[0-9a-f]+)", printed).group(1), 16)
        if self.packet == "x" and not s.has_x:
            raise NotImplementedError("no x packet")

    def run(self, s):
        # m: two hex digits a byte; x: binary, escaping at worst doubles it.
        chunk = (s.packet_size - 32) // 2
        done = 0
        while done < self.size:
            length = min(chunk, self.size - done)
            reply = s.client.request(f"{self.packet}{self.address + done:x},{length:x}")
            if len(reply) < length and reply.startswith("E"):  # binary data may begin with E
                raise RuntimeError(reply)
            done += length
        return 1


class SignalStorm:
    name, unit, args = "to a breakpoint through 100k SIGURG/SIGPROF", "ms", ["signal-storm", "100000"]

    def prepare(self, s):
        s.client.request(f"Z0,{s.symbol('main.square'):x},1")
        s.client.request("QPassSignals:1b")  # SIGPROF, gdb's default (gostub passes SIGURG itself)

    def run(self, s):
        s.resume_until_trap()
        return 1


class ThreadList:
    """gdb's qfThreadInfo/qsThreadInfo walk with ~50 threads (4 busy)."""
    name, unit, args = "thread list, 50 threads", "µs", ["os-threads", "48", "4"]
    count = 1000

    def prepare(self, s):
        s.client.request(f"Z0,{s.symbol('main.square'):x},1")
        s.resume_until_trap()
        self.threads = 0

    def run(self, s):
        for _ in range(self.count):
            reply, threads = s.client.request("qfThreadInfo"), 0
            while reply.startswith("m"):
                threads += reply.count(",") + 1
                reply = s.client.request("qsThreadInfo")
            if threads < 50:
                raise RuntimeError(f"only {threads} threads listed")
        return self.count


class Interrupt:
    """Ctrl-C (0x03) to stop reply while busy threads run; each time resumed for 20 ms."""
    name, unit, args = "Ctrl-C to stop reply, 50 threads", "µs", ["os-threads", "48", "4"]
    count = 50
    measured_wall = None  # from 0x03 to the stop reply only

    def prepare(self, s):
        s.client.request(f"Z0,{s.symbol('main.square'):x},1")
        s.resume_until_trap()
        s.client.request(f"z0,{s.symbol('main.square'):x},1")
        self.measured_wall = 0.0

    def run(self, s):
        self.measured_wall = 0.0
        for _ in range(self.count):
            s.client.sock.sendall(s.client.frame("vCont;c"))
            time.sleep(0.02)
            start = time.perf_counter()
            s.client.send_raw(b"\x03")
            reply = s.client.read_packet()
            while not reply.startswith("T02") and not reply.startswith("T13"):
                # a signal (SIGURG) seen first: gdb would pass it and interrupt again
                s.client.sock.sendall(s.client.frame(f"vCont;C{reply[1:3]};c"))
                s.client.send_raw(b"\x03")
                reply = s.client.read_packet()
            self.measured_wall += time.perf_counter() - start
        return self.count


SCENARIOS = [RoundTrip(), ReadWord(), ReadRegisters(), BreakpointHits(), SingleSteps(), MemoryRead("m"),
             MemoryRead("x"), SignalStorm(), ThreadList(), Interrupt()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    options = parser.parse_args()
    print(f"| scenario | server | wall per op | server CPU per op | CPU ratio to gdbserver | peak RSS |")
    print("|---|---|---|---|---|---|")
    for scenario in SCENARIOS:
        if options.only and options.only not in scenario.name:
            continue
        results = {kind: [] for kind in SERVERS}
        for _ in range(options.repeat):
            for kind in SERVERS:  # interleaved, so drift in the machine hits all alike
                try:
                    results[kind].append(measure(kind, scenario))
                except NotImplementedError:
                    pass
                except Exception as error:  # a server that cannot do it is a result too
                    results[kind].append({"error": str(error)[:60]})
        scale = 1e6 if scenario.unit == "µs" else 1e3
        medians = {}
        for kind in SERVERS:
            runs = [r for r in results[kind] if "error" not in r]
            if not runs:
                medians[kind] = None
                continue
            medians[kind] = {k: statistics.median(r[k] / (r["count"] if k in ("wall", "cpu") else 1)
                                                  for r in runs) for k in ("wall", "cpu", "rss")}
        for kind in SERVERS:
            m = medians[kind]
            failures = [r["error"] for r in results[kind] if "error" in r]
            if m is None:
                what = f"fails ({failures[0]})" if failures else "not offered"
                print(f"| {scenario.name} | {kind} | {what} | | | |")
                continue
            reference = medians.get("gdbserver")
            ratio = f"{m['cpu'] / reference['cpu']:.2f}" if reference and reference["cpu"] > 0 else "–"
            print(f"| {scenario.name} | {kind} | {m['wall'] * scale:.1f} {scenario.unit} | "
                  f"{m['cpu'] * scale:.1f} {scenario.unit} | {ratio} | {m['rss']:.1f} MiB |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
