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
from harness import DebugServer, fixture, line_of, normalise, run_gdb  # noqa: E402


def session(kind, binary, args, commands, mask=()):
    with DebugServer(kind, [binary, *args]) as server:
        out = run_gdb(binary, server.port, commands)
        server.wait()
        pid = re.search(r"pid = (\d+)", server.output()).group(1)
        lines = normalise(out, [pid])
        for pattern, replacement in mask:
            lines = [re.sub(pattern, replacement, line) for line in lines]
        return lines, out, server.output()


def differential(test, args, commands, flavour="debug", go="1.19", mask=()):
    """Runs `commands` against gostub and gdbserver; asserts equal normalised output (with
    `mask`'s (pattern, replacement) pairs applied to both) and returns gostub's raw output and
    its server's output."""
    binary = fixture(flavour=flavour, go=go)
    ours, raw, server_output = session("gostub", binary, args, commands, mask)
    harness.matches_a_reference(
        test, ours, lambda: session("gdbserver", binary, args, commands, mask)[0])
    return raw, server_output


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

    def test_range_stepping_matches_single_stepping(self):
        # gdb steps a line with vCont;r when the server offers it: gostub steps within the
        # range itself and reports once. The same session with range stepping off (one vCont;s
        # per instruction) and through gdbserver must say the same.
        commands = ["break main.describe", "continue", "next", "next", "step", "bt 2", "next",
                    "next", "finish", "next", "info line *$pc", "continue"]
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"], extra=["--remote-debug"]) as server:
            ranged = run_gdb(binary, server.port, commands)
            server.wait()
            log = server.output()
        with DebugServer("gostub", [binary, "basics"]) as server:
            single = run_gdb(binary, server.port, ["set range-stepping off"] + commands)
        self.assertIn("<- vCont;r", log)
        self.assertEqual(normalise(ranged), normalise(single))
        differential(self, ["basics"], commands)

    def test_step_into_and_out(self):
        # `info locals` in main.basics shows sq before square's result is stored: whatever the
        # stack slot held (a heap pointer left by describe's calls, which varies with the
        # runtime's timing from run to run, with either server). Its line is checked apart.
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
        ], mask=[(r"^sq = \d+$", "sq = ?")])
        self.assertRegex(out, r"(?m)^sq = \d+$")
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

    def test_breakpoint_conditions_evaluated_by_the_target(self):
        # gdb hands the condition to the server as agent-expression bytecode (Z0 ...;X...);
        # gostub evaluates it at each hit and reports only the hits where it is true. The
        # goroutine may run on any thread: thread numbers are not compared.
        binary = fixture()
        for where in ["target", "host"]:
            commands = [f"set breakpoint condition-evaluation {where}",
                        "break main.hit if worker == 298 || worker == 123",
                        "continue", "p worker", "continue", "p worker", "continue"]

            def run(kind):
                ours, _, server_output = session(kind, binary, ["count", "300"], commands)
                return [re.sub(r"Thread \d+ ", "Thread N ", line) for line in ours
                        if not line.startswith("[Switching to")], server_output

            with self.subTest(evaluation=where):
                out, server_output = run("gostub")
                harness.matches_a_reference(self, out, lambda: run("gdbserver")[0])
                self.assertEqual(re.findall(r"\$\d = (\d+)", "\n".join(out)), ["123", "298"])
                self.assertIn("hits 300", server_output)
                self.assertIn("exited normally", "\n".join(out))

    def test_exit_code(self):
        out, _ = differential(self, ["exit", "7"], ["continue"])
        self.assertIn("exited with code 07", out)

    def test_signal_is_reported_then_delivered(self):
        out, server_output = differential(self, ["signal"], ["continue", "bt 1", "continue"])
        self.assertIn("received signal SIGUSR1", out)
        self.assertIn("handled user defined signal 1", server_output)

    def test_special_registers(self):
        differential(self, ["basics"], [
            "break main.square",
            "continue",
            "info registers eflags cs ss ds es fs gs fs_base gs_base orig_rax",
            "info registers fctrl fstat ftag fop mxcsr",
            "p $xmm15",
            "p $st0",
            "set var $rax = 0x1234",
            "p/x $rax",
            "kill",
        ])

    def test_newer_go_toolchains(self):
        # A bounded slice of the matrix: the basic session on every Go we support.
        for go in harness.available_toolchains():
            with self.subTest(go=go):
                out, _ = differential(self, ["basics"], [
                    "break main.square", "continue", "bt", "p n", "finish", "next",
                    "info locals", "continue"], go=go)
                self.assertIn("main.square (n=7", out)
                self.assertIn("sq = 49", out)
                self.assertIn("exited with code 03", out)


class GoKnowledgeInASession(unittest.TestCase):
    def test_threads_are_named_after_their_goroutines(self):
        for go in ("1.19", harness.available_toolchains()[-1]):
            with self.subTest(go=go):
                binary = fixture(go=go)
                with DebugServer("gostub", [binary, "threads", 4, 1000]) as server:
                    out = run_gdb(binary, server.port, [
                        "break main.hit", "continue", "p worker", "info threads", "kill"])
                    printed = dict(re.findall(r"^worker (\d+) (\d+)$", server.output(), re.M))
                worker = re.search(r"^\$1 = (\d+)$", out, re.M).group(1)
                current = re.search(r'^\* \d+\s+Thread \d+\.\d+ "goroutine (\d+) (\S+)"', out, re.M)
                self.assertIsNotNone(current, out)
                self.assertEqual(current.group(1), printed[worker])
                self.assertRegex(current.group(2), r"^main\.threads\.")

    def test_monitor_eval_finds_functions_in_a_stripped_binary(self):
        binary = fixture(flavour="stripped")
        with DebugServer("gostub", [binary, "basics"]) as server:
            out = run_gdb(binary, server.port, [
                "monitor eval re:^main\\.s",
                "python a = gdb.execute('monitor eval addr:main.square', to_string=True).strip()",
                "python gdb.execute('break *' + a)",
                "continue",
                "python print('at', gdb.execute('monitor eval %d' % int(gdb.parse_and_eval('$pc')), to_string=True).strip())",
                "monitor eval 0",
                "kill",
            ])
        self.assertRegex(out, r"0x[0-9a-f]+ main\.square\n")
        self.assertRegex(out, r"0x[0-9a-f]+ main\.signalSelf\n")
        self.assertNotIn("main.basics", out.split("Breakpoint 1")[0])  # the regexp filtered
        self.assertIn(f"at main.square+0x0 {harness.FIXTURE_SOURCES}/gofixture/main.go:", out)
        self.assertIn("0 is in no Go function", out)

    def test_monitor_info_and_eval_account_for_pie_relocation(self):
        binary = fixture(flavour="pie")
        with DebugServer("gostub", [binary, "basics"]) as server:
            out = run_gdb(binary, server.port, [
                "monitor info",
                "monitor eval addr:main.square",
                "info address main.square",
                "kill",
            ])
        info_go = subprocess.run([harness.TOOLCHAINS["1.19"], "version", "-m", str(binary)],
                                 capture_output=True, text=True).stdout
        self.assertIn(info_go.splitlines()[0], out)
        self.assertIn("\tpie\tyes", out)
        bias = int(re.search(r"load bias\t(0x[0-9a-f]+)", out).group(1), 16)
        self.assertNotEqual(bias, 0)
        ours = re.search(r"^(0x[0-9a-f]+)$", out, re.M).group(1)
        gdbs = re.search(r"Symbol \"main.square\" is a function at address (0x[0-9a-f]+)", out).group(1)
        self.assertEqual(int(ours, 16), int(gdbs, 16))


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
        names = re.findall(r"^\*?\s+\d+\s+Thread \d+\.\d+ \"([^\"]+)\"", out, re.M)
        self.assertGreaterEqual(len(names), 4, out)
        # Threads running a goroutine are named after it; the others keep the program's name.
        self.assertTrue(all(re.fullmatch(r"gofixture|goroutine \d+ main\.\S+|goroutine \d+ runtime\.\S+", n)
                            for n in names), names)
        self.assertTrue(any(n.startswith("goroutine ") for n in names), names)
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
