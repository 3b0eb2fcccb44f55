"""gdb 13 drives gostub on real Go programs. Where gdbserver's answer is the oracle, the same
script runs against both servers and the normalised outputs must be equal."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import DebugServer, fixture, normalise, run_gdb  # noqa: E402


def line_of(marker):
    source = harness.FIXTURE_SOURCES / "gofixture" / "main.go"
    for number, line in enumerate(source.read_text().splitlines(), 1):
        if f"marker:{marker}" in line:
            return number
    raise KeyError(marker)


def differential(test, args, commands, flavour="debug"):
    """Runs `commands` against gdbserver and gostub; asserts equal normalised output and
    returns gostub's raw output."""
    binary = fixture(flavour=flavour)
    results = {}
    for kind in ("gdbserver", "gostub"):
        with DebugServer(kind, [binary, *args]) as server:
            out = run_gdb(binary, server.port, commands)
            server.wait()
            pid = re.search(r"pid = (\d+)", server.output()).group(1)
            results[kind] = (normalise(out, [pid]), out, server.output())
    test.assertEqual(results["gdbserver"][0], results["gostub"][0],
                     "gdb's output differs between gdbserver and gostub")
    return results["gostub"][1], results["gostub"][2]


class DifferentialAgainstGdbserver(unittest.TestCase):
    maxDiff = None

    def test_breakpoints_stepping_and_data(self):
        out, server_output = differential(self, ["basics"], [
            "break main.square",
            f"break main.go:{line_of('describe-call')}",
            "info breakpoints",
            "continue",
            "p p",
            "p words",
            "p words.array[1]",
            "p *words.array@3",
            "p p.Name",
            "p 'main.globalName'",
            "p 'main.globalCounter'",
            "set var 'main.globalCounter' = 99",
            "p 'main.globalCounter'",
            "x/8xb &'main.globalCounter'",
            "next",
            "p label",
            "continue",
            "bt",
            "info registers rip",
            "p n",
            "stepi",
            "x/i $pc",
            "nexti",
            "finish",
            "next",
            "p sq",
            f"until {line_of('print')}",
            "info frame",
            "continue",
        ])
        self.assertIn("hit Breakpoint 2", out)
        self.assertIn("hit Breakpoint 1, main.square (n=7", out)
        self.assertIn('$1 = {X = 3, Y = 4, Name = 0x', out)
        self.assertIn("exited with code 03", out)
        # The memory write reached the program.
        self.assertIn("origin:7,alpha,beta,gamma 49 99 gostub", server_output)

    def test_step_into_and_out(self):
        out, _ = differential(self, ["basics"], [
            f"break main.go:{line_of('square-call')}",
            "continue",
            "step",
            "bt 1",
            "step",
            "step",
            "up",
            "info locals",
            "down",
            "kill",
        ])
        self.assertIn("main.square (n=7", out)
        self.assertIn("[Inferior 1 (process", out)

    def test_default_build(self):
        out, _ = differential(self, ["basics"], [
            "break main.square",
            "continue",
            "bt",
            "info registers rip rsp",
            "continue",
        ], flavour="default")
        self.assertIn("exited with code 03", out)

    def test_signals_and_exit_codes(self):
        out, _ = differential(self, ["exit", "7"], ["continue"])
        self.assertIn("exited with code 07", out)


class GdbThroughGostub(unittest.TestCase):
    def test_every_breakpoint_hit_on_many_threads_is_reported(self):
        workers, calls = 8, 60
        binary = fixture()
        with DebugServer("gostub", [binary, "threads", workers, calls]) as server:
            out = run_gdb(binary, server.port, [
                "set $count = 0",
                "break main.hit",
                "commands",
                "silent",
                "set $count = $count + 1",
                "continue",
                "end",
                "continue",
                "print $count",
            ])
            server.wait()
            self.assertIn(f"hits {workers * calls}", server.output())
        self.assertIn(f"$1 = {workers * calls}", out)
        self.assertRegex(out, r"exited normally")

    def test_threads_are_listed_named_and_selectable(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "threads", 4, 1000]) as server:
            out = run_gdb(binary, server.port, [
                "break main.hit",
                "continue",
                "info threads",
                "thread 2",
                "bt 2",
                "thread apply all bt 1",
                "info registers fs_base gs_base",
                "kill",
            ])
        threads = re.findall(r"^\*?\s+(\d+)\s+Thread \d+\.\d+ \"gofixture\"", out, re.M)
        self.assertGreaterEqual(len(threads), 4, out)
        self.assertIn("[Switching to thread 2", out)
        self.assertRegex(out, r"fs_base\s+0x[0-9a-f]+")
        self.assertNotIn("Remote communication error", out)
        self.assertIn("[Inferior 1 (process", out)
        self.assertIn("killed]", out)

    def test_memory_reads_never_show_breakpoint_bytes(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"]) as server:
            out = run_gdb(binary, server.port, [
                "break main.describe",
                "break main.square",
                "continue",
                # maint packet bypasses gdb's own shadowing of the breakpoints it inserted.
                "python a = int(gdb.parse_and_eval('main.square').address)",
                "python print('raw', gdb.execute('maint packet m%x,4' % a, to_string=True).strip())",
                "python print('file', bytes(gdb.selected_inferior().read_memory(a, 4)).hex())",
                "kill",
            ])
        raw = re.search(r"received: \"([0-9a-f]+)\"", out)
        self.assertIsNotNone(raw, out)
        self.assertNotIn("cc", raw.group(1)[:2])
        # gdb's own (shadowed) read and the raw packet agree.
        self.assertIn(f"file {raw.group(1)}", out)

    def test_ctrl_c_stops_a_running_program_with_sigint(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "spin"]) as server:
            out = run_gdb(binary, server.port, ["continue", "bt 1", "info threads", "kill"],
                          signal_after=("spinning", server.output))
        self.assertIn("received signal SIGINT", out)
        self.assertIn("killed]", out)

    def test_detach_lets_the_program_run_to_its_end(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"]) as server:
            out = run_gdb(binary, server.port, ["break main.square", "continue", "detach"])
            self.assertIn("detached]", out)
            server.wait()
            deadline = time.time() + 10
            while "origin:7" not in server.output() and time.time() < deadline:
                time.sleep(0.05)
            self.assertIn("origin:7,alpha,beta,gamma 49 42 gostub", server.output())

    def test_program_exit_code_reaches_gdb(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "exit", "42"]) as server:
            out = run_gdb(binary, server.port, ["continue"])
            self.assertEqual(server.wait(), 0)
        self.assertIn("exited with code 052", out)


if __name__ == "__main__":
    unittest.main()
