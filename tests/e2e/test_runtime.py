"""Go runtime awareness (issue 6): gostub stops where a program panics or dies of a fatal
error, says why in the runtime's own words, passes Go's signals without derailing steps, and
reports every breakpoint hit exactly once under preemption. The oracle for each message is
what the Go runtime itself prints when the program is then continued."""

import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import DebugServer, fixture, run_gdb, run_lldb  # noqa: E402

GO_VERSIONS = ["1.19", harness.available_toolchains()[-1]]
PANICS = ["panic-string", "panic-error", "panic-wrapped", "panic-index", "panic-nil-map",
          "panic-nil-deref", "panic-int", "panic-custom"]


def runtime_says(server_output, prefix):
    """The runtime's own first line after `prefix` ("panic: ", "fatal error: ")."""
    for line in server_output.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].removesuffix(" [recovered]")
    raise AssertionError(f"the program printed no {prefix!r}:\n{server_output}")


class PanicsAndFatalErrors(unittest.TestCase):
    def test_unrecovered_panics_stop_with_the_runtimes_message(self):
        for go in GO_VERSIONS:
            binary = fixture(go=go)
            for mode in PANICS:
                with self.subTest(go=go, mode=mode):
                    # A nil dereference is first a SIGSEGV, reported once; continuing lets the
                    # runtime turn it into a panic.
                    first = ["continue"] * (2 if mode == "panic-nil-deref" else 1)
                    with DebugServer("gostub", [binary, mode]) as server:
                        out = run_gdb(binary, server.port, first + ["bt 8", "continue"])
                        server.wait()
                        said = runtime_says(server.output(), "panic: ")
                    self.assertIn(f"gostub: goroutine 1 panicked: {said}\n", out)
                    self.assertIn("received signal SIGTRAP", out)
                    self.assertRegex(out, r"#0  [^\n]*runtime\.fatalpanic")
                    self.assertRegex(out, r"#\d+  [^\n]*main\.crash")  # the frame that panicked
                    self.assertIn("exited with code 02]", out)
                    if mode == "panic-nil-deref":
                        self.assertEqual(out.count("received signal SIGSEGV"), 1)

    def test_fatal_errors_stop_with_the_runtimes_message(self):
        for go in GO_VERSIONS:
            with self.subTest(go=go):
                binary = fixture(go=go)
                with DebugServer("gostub", [binary, "deadlock"]) as server:
                    out = run_gdb(binary, server.port, ["continue", "bt 4", "continue"])
                    server.wait()
                    said = runtime_says(server.output(), "fatal error: ")
                self.assertRegex(out, rf"gostub: [^\n]* hit a fatal error: {re.escape(said)}\n")
                self.assertRegex(out, r"#\d+  [^\n]*runtime\.checkdead")
                self.assertIn("exited with code 02]", out)

    def test_recovered_panics_stop_only_when_asked(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "recovered"]) as server:
            out = run_gdb(binary, server.port, ["continue"])
            server.wait()
            self.assertIn("recovered: handled", server.output())
        self.assertNotIn("gostub:", out)
        self.assertIn("exited normally", out)
        with DebugServer("gostub", [binary, "recovered"]) as server:
            out = run_gdb(binary, server.port, [
                "monitor catch recovered-panic on", "continue", "bt 3", "continue"])
        self.assertIn("catch recovered-panic on", out)
        self.assertIn("gostub: goroutine 1 panics (it may recover): handled", out)
        self.assertRegex(out, r"#0  [^\n]*runtime\.gopanic")
        self.assertIn("exited normally", out)

    def test_catching_can_be_switched_off(self):
        binary = fixture()
        for how, extra, commands in [("--catch none", ["--catch", "none"], ["continue"]),
                                     ("monitor", [], ["monitor catch panic off", "continue"])]:
            with self.subTest(how):
                with DebugServer("gostub", [binary, "panic-string"], extra=extra) as server:
                    out = run_gdb(binary, server.port, commands)
                self.assertNotIn("gostub: goroutine", out)
                self.assertIn("exited with code 02]", out)

    def test_runtime_breakpoint_stops_and_continue_goes_on(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "breakpoint"]) as server:
            out = run_gdb(binary, server.port, ["continue", "bt 3", "continue"])
            server.wait()
            self.assertIn("after breakpoint", server.output())
        self.assertIn("received signal SIGTRAP", out)
        self.assertRegex(out, r"#\d+  [^\n]*main\.crash")
        self.assertIn("exited normally", out)


class Exits(unittest.TestCase):
    def test_a_program_killed_by_a_signal_is_reported_as_such(self):
        import os
        import signal
        import threading
        binary = fixture()
        with DebugServer("gostub", [binary, "spin"]) as server:
            pid = int(re.search(r"pid = (\d+)", server.output()).group(1))

            def kill_when_spinning():
                harness.time.sleep(0.2)
                while "spinning" not in server.output():
                    harness.time.sleep(0.05)
                os.kill(pid, signal.SIGKILL)

            threading.Thread(target=kill_when_spinning, daemon=True).start()
            out = run_gdb(binary, server.port, ["continue"])
        self.assertIn("Program terminated with signal SIGKILL, Killed.", out)


class SignalsAndPreemption(unittest.TestCase):
    def test_handle_pass_and_nopass_follow_the_client(self):
        # nostop noprint: not reported; pass delivers it to the program's signal.Notify,
        # nopass discards it (gdb sends it in QPassSignals but not in QProgramSignals).
        binary = fixture()
        for disposition, printed in [("pass", "handled user defined signal 1"),
                                     ("nopass", "no signal arrived")]:
            with self.subTest(disposition):
                with DebugServer("gostub", [binary, "signal"]) as server:
                    out = run_gdb(binary, server.port, [
                        f"handle SIGUSR1 nostop noprint {disposition}", "continue"])
                    server.wait()
                    self.assertIn(printed, server.output())
                self.assertNotIn("received signal SIGUSR1", out)
                self.assertIn("exited normally", out)

    def test_a_storm_of_sigurg_and_sigprof_reaches_the_breakpoint_without_a_stop(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "signal-storm", 100000]) as server:
            out = run_gdb(binary, server.port, ["break main.square", "continue", "continue"],
                          timeout=300)
            server.wait()
            self.assertIn("sent 100000 signals; square: 25", server.output())
        self.assertNotIn("received signal", out)
        self.assertIn("hit Breakpoint 1, main.square", out)

    # One goroutine calls hit(0), hit(1), … while three others spin: with 1999 hits ignored the
    # program must stop in hit(1999). A hit reported twice stops it early, a lost one late.
    def test_every_hit_reported_exactly_once_gdb(self):
        binary = fixture()
        for attempt in range(3):
            with self.subTest(attempt=attempt):
                with DebugServer("gostub", [binary, "count", 3000]) as server:
                    out = run_gdb(binary, server.port, [
                        "break main.hit", "ignore 1 1999", "continue", "p worker", "kill"])
                self.assertIn("hit Breakpoint 1, main.hit (worker=1999)", out)

    def test_every_hit_reported_exactly_once_lldb(self):
        binary = fixture()
        for attempt in range(3):
            with self.subTest(attempt=attempt):
                with DebugServer("gostub", [binary, "count", 3000]) as server:
                    # lldb cannot show Go variables; hit's argument is in RAX (ABIInternal).
                    out = run_lldb(binary, server.port, [
                        "breakpoint set -n main.hit -i 1999", "continue", "register read rax",
                        "process kill"])
                self.assertIn("stop reason = breakpoint 1.1", out)
                self.assertIn("rax = 0x00000000000007cf", out)  # 1999

    def test_lldb_sees_every_hit_of_busy_threads(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "threads", 4, 200]) as server:
            out = run_lldb(binary, server.port, [
                "breakpoint set -n main.hit -i 100000", "continue", "breakpoint list"])
            server.wait()
            self.assertIn("hits 800", server.output())
        self.assertIn("hit count = 800", out)


if __name__ == "__main__":
    unittest.main()
