"""Processes a Go program starts (issue 13): fork, vfork, exec and system calls caught from gdb,
follow-fork-mode, and gdbserver's command line and monitor commands. Where gdbserver's answer
is the oracle the same script runs against both servers on the forkfixture (os/exec,
syscall.ForkExec, a cgo fork(), syscall.Exec) and the normalised outputs must be equal."""

import re
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import GOSTUB, DebugServer, fixture, normalise, run_gdb  # noqa: E402


def session(kind, mode, commands, extra=()):
    binary = fixture("forkfixture")
    with DebugServer(kind, [binary, mode], extra=extra) as server:
        out = run_gdb(binary, server.port, commands)
        server.wait()
        pid = re.search(r"pid = (\d+)", server.output()).group(1)
    lines = []
    for line in normalise(out, [pid]):
        # The Go runtime starts its threads at its own pace.
        if line.startswith("[New Thread"):
            continue
        lines.append(re.sub(r"\(remote 127\.0\.0\.1:\d+\)", "(remote PORT)", line))
    return lines, out


def differential(test, mode, commands):
    ours, raw = session("gostub", mode, commands)
    harness.matches_a_reference(test, ours, lambda: session("gdbserver", mode, commands)[0])
    return raw


class ForksAgainstGdbserver(unittest.TestCase):
    maxDiff = None

    def test_catch_vfork_in_os_exec_then_the_parent_goes_on(self):
        out = differential(self, "osexec", ["catch fork", "catch vfork", "break main.finished",
                                            "continue", "continue", "info inferiors", "continue"])
        self.assertIn("hit Catchpoint 2 (vforked process", out)
        self.assertIn("main.finished (what=..., code=0)", out)

    def test_catch_vfork_in_syscall_forkexec(self):
        out = differential(self, "forkexec", ["catch vfork", "break main.finished", "continue",
                                              "continue", "continue"])
        self.assertIn("code=5", out)

    def test_cgo_fork_the_child_runs_without_the_parents_breakpoints(self):
        # The child of fork() has every int3 of its parent; detached without them, it exits 3.
        out = differential(self, "cgofork", ["catch fork", "break main.finished", "continue",
                                             "continue", "info inferiors", "kill"])
        self.assertIn("Detaching after fork from child process", out)
        self.assertIn("code=3", out)

    def test_follow_fork_mode_child(self):
        out = differential(self, "cgofork", ["set follow-fork-mode child", "break main.finished",
                                             "continue", "info inferiors", "continue"])
        self.assertIn("[Inferior 2 (process", out)
        self.assertIn("exited with code 03", out)

    def test_a_client_without_fork_events_never_sees_the_child(self):
        # Delve and lldb-server's clients offer no fork-events: the child, traced from birth,
        # is let go at once without the parent's breakpoints (here on main.finished, which the
        # fork child never runs, and gostub's own on runtime.fatalpanic and runtime.throw).
        binary = fixture("forkfixture")
        entry = next(int(line.split()[0], 16) for line in subprocess.run(
            [str(GOSTUB), "functions", str(binary)], capture_output=True, text=True
        ).stdout.splitlines() if line.endswith(" main.finished"))
        with DebugServer("gostub", [binary, "cgofork"]) as server:
            client = harness.RspClient(server.port)
            self.assertNotIn("fork-events", client.request("qSupported:multiprocess+"))
            self.assertEqual(client.request("QPassSignals:14"), "OK")  # SIGCHLD, in gdb's numbers
            self.assertEqual(client.request("Z0,%x,1" % entry), "OK")
            hit = client.request("vCont;c")
            self.assertTrue(hit.startswith("T05"), hit)
            self.assertNotIn("fork", hit)
            self.assertEqual(client.request("z0,%x,1" % entry), "OK")
            self.assertTrue(client.request("vCont;c").startswith("W00"))
            client.sock.close()
            server.wait()
            self.assertIn("cgofork 3", server.output())

    def test_catch_exec(self):
        out = differential(self, "exec", ["catch exec", "continue", "info inferiors", "continue"])
        self.assertIn("is executing new program: /usr/bin/echo", out)

    def test_breakpoints_in_the_program_an_exec_started(self):
        # After the exec, gdb inserts its breakpoints in the new address space (gostub's
        # /proc/PID/mem of the old one would fail: "Cannot insert breakpoint").
        out = differential(self, "execself", ["break main.finished", "catch exec", "continue",
                                              "continue", "bt 1", "continue"])
        self.assertIn("main.finished (what=..., code=0)", out)

    def test_catch_syscall(self):
        out = differential(self, "syscall", ["catch syscall getppid write", "continue", "continue",
                                             "continue", "bt 1", "info breakpoints", "delete",
                                             "continue"])
        self.assertIn("(call to syscall getppid)", out)
        self.assertIn("(returned from syscall getppid)", out)
        self.assertIn("(call to syscall write)", out)


def launched_output(extra, program_args):
    """Runs a program under gostub with `extra` options until it exits; its output."""
    with DebugServer("gostub", program_args, extra=extra) as server:
        run_gdb(None, server.port, ["continue"])
        server.wait()
        return server.output()


class GdbserverCommandLine(unittest.TestCase):
    def test_shell_wrapper_and_randomization(self):
        # The shell runs the program, its arguments passed as given.
        out = launched_output([], ["/bin/echo", "a  b", "$HOME", "*"])
        self.assertIn("a  b $HOME *", out)
        out = launched_output(["--wrapper", "env", "GOSTUB_WRAPPED=yes", "--"], ["/usr/bin/env"])
        self.assertIn("GOSTUB_WRAPPED=yes", out)
        out = launched_output(["--no-startup-with-shell", "--wrapper", "env", "W=2", "--"],
                              ["/usr/bin/env"])
        self.assertIn("W=2", out)
        # personality(2): ADDR_NO_RANDOMIZE is 0x0040000, on by default as in gdbserver.
        self.assertIn("00040000", launched_output([], ["/bin/cat", "/proc/self/personality"]))
        self.assertIn("00000000", launched_output(["--no-disable-randomization"],
                                                  ["/bin/cat", "/proc/self/personality"]))

    def test_options_that_end_gostub_at_once(self):
        result = subprocess.run([str(GOSTUB), "--selftest"], capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assertIn(", 0 failed", result.stdout)
        result = subprocess.run([str(GOSTUB), "--disable-packet=bogus", ":0", "/bin/true"],
                                capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 1)
        self.assertIn('Don\'t know how to disable "bogus".', result.stderr)
        result = subprocess.run([str(GOSTUB), "--wrapper", "env", ":0", "/bin/true"],
                                capture_output=True, text=True, timeout=20)
        self.assertNotEqual(result.returncode, 0)

    def test_disable_packet_threads_gdb_still_debugs(self):
        binary = fixture("forkfixture")
        with DebugServer("gostub", [binary, "syscall"],
                         extra=["--disable-packet=threads", "--remote-debug"]) as server:
            out = run_gdb(binary, server.port, ["break main.finished", "continue", "bt 1",
                                                "continue"])
            server.wait()
            log = server.output()
        self.assertIn("main.finished", out)
        self.assertIn("[remote] <- qC\n[remote] -> \n", log)
        stops = [line for line in log.splitlines() if line.startswith("[remote] -> T05")]
        self.assertTrue(stops)
        self.assertFalse([line for line in stops if "thread:" in line])

    def test_monitor_commands_as_gdbserver_words_them(self):
        commands = ["monitor set debug 1", "monitor set debug 0", "monitor set remote-debug 1",
                    "monitor set remote-debug 0", "monitor set event-loop-debug 1",
                    "monitor set event-loop-debug 0", "monitor set debug-format all",
                    "monitor set debug-format none", "monitor frob", "kill"]
        binary = fixture("forkfixture")
        with DebugServer("gostub", [binary, "syscall"]) as server:
            ours = run_gdb(binary, server.port, commands)
        with DebugServer("gdbserver", [binary, "syscall"]) as server:
            theirs = run_gdb(binary, server.port, commands)
        for expected in ["Debug output enabled.", "Debug output disabled.",
                         "Protocol debug output enabled.", "Protocol debug output disabled.",
                         "Event loop debug output enabled.", "Event loop debug output disabled.",
                         "All extra debug format options enabled.",
                         "All extra debug format options disabled.",
                         "Protocol error with Rcmd"]:
            self.assertIn(expected, theirs)
            self.assertIn(expected, ours)


if __name__ == "__main__":
    unittest.main()
