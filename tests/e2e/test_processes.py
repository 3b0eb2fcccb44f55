"""Processes a Go program starts (issue 13): fork, vfork, exec and system calls caught from gdb,
follow-fork-mode, and gdbserver's command line and monitor commands. Where gdbserver's answer
is the oracle the same script runs against both servers on the forkfixture (os/exec,
syscall.ForkExec, a cgo fork(), syscall.Exec) and the normalised outputs must be equal."""

import os
import re
import signal
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import GOSTUB, DebugServer, fixture, normalise, run_gdb  # noqa: E402


def session(kind, mode, commands, extra=(), connect="target remote", pids=()):
    binary = fixture("forkfixture")
    with DebugServer(kind, [binary, mode], extra=extra) as server:
        out = run_gdb(binary, server.port, commands, connect=connect)
        server.wait()
        pid = re.search(r"pid = (\d+)", server.output()).group(1)
    lines = []
    for line in normalise(out, [pid, *pids]):
        # The Go runtime starts its threads at its own pace.
        if line.startswith("[New Thread"):
            continue
        line = re.sub(r"\((extended-)?remote 127\.0\.0\.1:\d+\)", "(remote PORT)", line)
        line = re.sub(r"\bpid=\d+", "pid=N", line)  # a child's, in wait4's arguments
        # Tables (info threads, info inferiors) are as wide as their longest name.
        lines.append(re.sub(r"\s{2,}", " ", line))
    return lines, out


def differential(test, mode, commands, connect="target remote", keep=lambda line: True):
    def normalised(kind):
        lines, raw = session(kind, mode, commands, connect=connect)
        return [line for line in lines if keep(line)], raw

    ours, raw = normalised("gostub")
    harness.matches_a_reference(test, ours, lambda: normalised("gdbserver")[0])
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

    def test_a_panic_in_the_program_an_exec_started_is_caught(self):
        # gostub-only (gdbserver has no panic stops): what gostub knew of the old image (its
        # catch points, pclntab) must be learnt anew from the new one.
        binary = fixture("forkfixture")
        with DebugServer("gostub", [binary, "execpanic"]) as server:
            out = run_gdb(binary, server.port, ["catch exec", "continue", "continue", "bt 8",
                                                "monitor goroutines"])
            server.wait()
        self.assertIn("is executing new program:", out)
        self.assertRegex(out, r"gostub: goroutine 1 panicked: after exec \d+")
        self.assertRegex(out, r"#0  [^\n]*runtime\.fatalpanic")
        self.assertRegex(out, r"#\d+  [^\n]*main\.main")
        self.assertRegex(out, r"\* Goroutine 1 \[running\] runtime\.fatalpanic ")

    def test_threads_that_start_and_exit_between_stops(self):
        # A clone's first stop and its exit can be reaped before its parent's clone event;
        # the thread must not be waited for again (gdb's multi-create.exp hung on it).
        def hits(kind):
            lines, _ = session(kind, "threads", ["break create_threads"] + ["continue"] * 12)
            # gdb numbers threads as it sees them: how many short-lived ones it saw is timing.
            return [re.sub(r"^Thread \d+ ", "Thread N ", line) for line in lines
                    if " hit Breakpoint 1, create_threads " in line]

        ours = hits("gostub")
        self.assertEqual(len(ours), 12, ours)
        harness.matches_a_reference(self, ours, lambda: hits("gdbserver"))

    def test_attach_and_detach_again_while_threads_start_threads(self):
        # Threads cloned by a thread gostub has just seized are traced from birth: seizing
        # them again fails (EPERM), which made the attach fail; and a detached program stayed
        # the server's current one, which the next client took for a live one.
        binary = fixture("forkfixture")
        churner = subprocess.Popen([str(binary), "churn"], stdout=subprocess.DEVNULL)

        def rounds(kind):
            commands = [f"attach {churner.pid}", "detach"] * 4
            with DebugServer(kind, [], once=False, extra=["--multi"]) as server:
                outs = [run_gdb(None, server.port, commands, connect="target extended-remote")
                        for _ in range(2)]  # a second client after the first detached
            return [re.sub(r"process \d+", "process P", line) for out in outs
                    for line in out.splitlines()
                    if "detached]" in line or "failed" in line or "Cannot" in line]

        try:
            ours = rounds("gostub")
            self.assertEqual(ours, ["[Inferior 1 (process P) detached]"] * 8)
            harness.matches_a_reference(self, ours, lambda: rounds("gdbserver"))
            status = Path(f"/proc/{churner.pid}/status").read_text()
            self.assertRegex(status, r"TracerPid:\s+0\n")
        finally:
            churner.kill()
            churner.wait()

    def test_catch_syscall(self):
        out = differential(self, "syscall", ["catch syscall getppid write", "continue", "continue",
                                             "continue", "bt 1", "info breakpoints", "delete",
                                             "continue"])
        self.assertIn("(call to syscall getppid)", out)
        self.assertIn("(returned from syscall getppid)", out)
        self.assertIn("(call to syscall write)", out)


class SeveralInferiors(unittest.TestCase):
    """gdb's inferiors over one extended-remote connection: fork children kept
    (detach-on-fork off), a followed vfork child, and a second program attached."""

    maxDiff = None
    EXTENDED = "target extended-remote"

    def test_detach_on_fork_off_keeps_the_child_as_a_second_inferior(self):
        # stepi after the catch: gdb follows the fork (keeps the child stopped) and steps the
        # parent alone; both are live inferiors, each with its own threads and stack.
        out = differential(self, "cgofork", [
            "set detach-on-fork off", "catch fork", "continue", "stepi", "info inferiors",
            "inferior 2", "bt 1", "info threads", "inferior 1", "bt 1", "kill inferiors 1 2",
            "info inferiors"], connect=self.EXTENDED,
            # Where the parent's other threads wait is the Go runtime's affair.
            keep=lambda line: not re.match(r" 1\.([2-9]|\d\d) ", line))
        self.assertIn("[New inferior 2 (process", out)
        self.assertEqual(len(re.findall(r"^\*? +[12] +process \d+", out, re.M)), 2, out)
        self.assertIn("* 2.1  Thread", out)
        self.assertIn("arch_fork", out)

    def test_both_inferiors_run_with_schedule_multiple(self):
        # The kept child runs to its exit (code 3) while the parent waits for it; then the
        # parent reaches its breakpoint.
        out = differential(self, "cgofork", [
            "set detach-on-fork off", "set schedule-multiple on", "catch fork",
            "break main.finished", "continue", "continue", "info inferiors", "inferior 1",
            "continue", "bt 1", "kill inferiors 1"], connect=self.EXTENDED,
            # Where the child's exit finds the parent (still leaving fork, binding waitpid in
            # the dynamic linker, or in wait4) is a race with either server: its frame at
            # `inferior 1` is left out.
            keep=lambda line: not re.match(
                r"#0 .*(arch_fork|wait4|_dl_\w+ \()|\d+\t.*(sysdeps|/elf/)", line))
        self.assertRegex(out, r"\[Inferior 2 \(process \d+\) exited with code 03\]")
        self.assertIn("main.finished (what=..., code=3)", out)

    def test_follow_a_vfork_child_until_its_exec(self):
        # gdb keeps the vfork parent until the child execs (vforkdone), then detaches it.
        out = differential(self, "osexec", [
            "set follow-fork-mode child", "catch exec", "break main.finished", "continue",
            "info inferiors", "continue", "info inferiors"], connect=self.EXTENDED)
        self.assertIn("[Detaching vfork parent process", out)
        self.assertIn("exec'd /usr/bin/true", out)
        self.assertRegex(out, r"\[Inferior 2 \(process \d+\) exited normally\]")

    def test_a_kept_vfork_child_execs_and_exits_beside_its_parent(self):
        # Not against gdbserver: it reports a SIGSTOP of /bin/true after its exec that
        # nobody sent (the stop it uses to stop all threads, reported as the program's).
        binary = fixture("forkfixture")
        with DebugServer("gostub", [binary, "osexec"]) as server:
            out = run_gdb(binary, server.port, [
                "set detach-on-fork off", "set schedule-multiple on", "catch vfork",
                "catch exec", "break main.finished", "continue", "continue", "info inferiors",
                "continue", "inferior 1", "continue", "bt 1", "kill inferiors 1"],
                connect=self.EXTENDED)
        self.assertIn("[New inferior 2 (process", out)
        self.assertIn("exec'd /usr/bin/true", out)
        self.assertEqual(len(re.findall(r"^\*? +[12] +process \d+", out, re.M)), 2, out)
        self.assertRegex(out, r"\[Inferior 2 \(process \d+\) exited normally\]")
        self.assertIn("main.finished (what=..., code=0)", out)
        self.assertNotIn("SIGSTOP", out)

    def attach_second(self, kind):
        binary = fixture("forkfixture")
        waiter = subprocess.Popen([str(binary), "wait"], stdout=subprocess.DEVNULL)
        try:
            commands = ["break main.finished", "add-inferior", "inferior 2",
                        f"attach {waiter.pid}", "break main.tick", "continue", "bt 1",
                        "info inferiors", "inferior 1", "continue", "bt 1",
                        "detach inferiors 1 2", "info inferiors"]
            lines, out = session(kind, "syscall", commands, connect=self.EXTENDED,
                                 pids=[waiter.pid])
            # Both detached: the attached program runs on, untraced.
            status = Path(f"/proc/{waiter.pid}/status").read_text()
            self.assertIsNone(waiter.poll())
            self.assertRegex(status, r"TracerPid:\s+0\n")
        finally:
            waiter.kill()
            waiter.wait()
        # Which thread runs tick, how often it ran by then, and where the attach found the
        # program (its frame, and whether gdb switches threads at the hit) are the Go
        # scheduler's.
        lines = [re.sub(r"Thread \d+\.\d+ ", "Thread I.T ", re.sub(r"n=\d+", "n=N", line))
                 for line in lines
                 if not re.match(r"(runtime\.\w+ \(\) at |\d+ |\[Switching to Thread )", line)]
        return lines, out

    def test_attach_a_second_program_breakpoints_in_both_detach_both(self):
        ours, out = self.attach_second("gostub")
        harness.matches_a_reference(self, ours, lambda: self.attach_second("gdbserver")[0])
        self.assertIn("hit Breakpoint 2.2, main.tick", out)
        self.assertIn("main.finished (what=..., code=0)", out)
        self.assertRegex(out, r"\[Inferior 1 \(process \d+\) detached\]")
        self.assertRegex(out, r"\[Inferior 2 \(process \d+\) detached\]")


class SeveralInferiorsBadInput(unittest.TestCase):
    """A raw client: pids that are not there, a client that vanishes while two programs live,
    and gostub's end with both (the launched one killed, the attached one let go)."""

    def test_bad_pids_a_vanished_client_and_the_end(self):
        binary = fixture("forkfixture")
        waiter = subprocess.Popen([str(binary), "wait"], stdout=subprocess.DEVNULL)
        server = DebugServer("gostub", [], once=False, extra=["--multi"])
        try:
            client = harness.RspClient(server.port)
            client.request("qSupported:multiprocess+;fork-events+;vfork-events+")
            self.assertEqual(client.request("!"), "OK")
            run = client.request("vRun;" + str(binary).encode().hex() + ";" + b"wait".hex())
            self.assertTrue(run.startswith("T05"), run)
            launched = int(re.search(r"thread:p([0-9a-f]+)\.", run).group(1), 16)
            attached = client.request("vAttach;%x" % waiter.pid)
            self.assertTrue(attached.startswith("T11"), attached)  # SIGSTOP, gdb's 17
            self.assertTrue(client.request("vAttach;%x" % waiter.pid).startswith("E"))
            self.assertTrue(client.request("vAttach;7ffffff0").startswith("E"))
            self.assertEqual(client.request("D;7ffffff0"), "E03")
            threads = client.request("qfThreadInfo")
            self.assertIn("p%x.%x" % (launched, launched), threads)
            self.assertIn("p%x.%x" % (waiter.pid, waiter.pid), threads)
            # Both run; the client vanishes meanwhile.
            client.sock.sendall(client.frame("vCont;c"))
            client.sock.close()
            # The next client finds both stopped, as it left them, and hears of one.
            client = harness.RspClient(server.port)
            client.request("qSupported:multiprocess+")
            self.assertTrue(client.request("?").startswith("T"))
            threads = client.request("qfThreadInfo")
            self.assertIn("p%x." % launched, threads)
            self.assertIn("p%x." % waiter.pid, threads)
            for pid in (launched, waiter.pid):
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                self.assertEqual(state, "t", pid)  # stopped by its tracer
            # One killed: the other lives on, and a second kill is an error.
            self.assertEqual(client.request("vKill;%x" % launched), "OK")
            self.assertEqual(client.request("vKill;%x" % launched), "E03")
            self.assertEqual(client.request("D;%x" % launched), "E03")
            self.assertTrue(client.request("Hgp%x.%x" % (waiter.pid, waiter.pid)) == "OK")
            client.close()
            # gostub's end: the attached program is let go, untraced and running.
            os.kill(server.process.pid, signal.SIGTERM)
            server.wait()
            self.assertTrue(harness.wait_for(lambda: re.search(
                r"TracerPid:\s+0\n", Path(f"/proc/{waiter.pid}/status").read_text())))
            self.assertIsNone(waiter.poll())
        finally:
            server.close()
            waiter.kill()
            waiter.wait()

    def test_a_launched_second_program_dies_with_gostub(self):
        binary = fixture("forkfixture")
        server = DebugServer("gostub", [binary, "wait"], once=False, extra=["--multi"])
        try:
            client = harness.RspClient(server.port)
            client.request("qSupported:multiprocess+")
            client.request("!")
            first = int(re.search(r"thread:p([0-9a-f]+)\.", client.request("?")).group(1), 16)
            run = client.request("vRun;" + str(binary).encode().hex() + ";" + b"wait".hex())
            second = int(re.search(r"thread:p([0-9a-f]+)\.", run).group(1), 16)
            self.assertNotEqual(first, second)
            client.close()
            os.kill(server.process.pid, signal.SIGTERM)
            server.wait()
            for pid in (first, second):
                self.assertFalse(harness.alive(pid), pid)
        finally:
            server.close()


class ThreadEvents(unittest.TestCase):
    def test_qthreadevents_reports_the_go_runtimes_new_threads(self):
        binary = fixture("forkfixture")
        with DebugServer("gostub", [binary, "wait"]) as server:
            client = harness.RspClient(server.port)
            self.assertIn("QThreadEvents+", client.request("qSupported:multiprocess+"))
            leader = int(re.search(r"thread:p([0-9a-f]+)\.", client.request("?")).group(1), 16)
            self.assertEqual(client.request("QThreadEvents:1"), "OK")
            created = client.request("vCont;c")
            self.assertTrue(created.startswith("T05"), created)
            self.assertIn("create:;", created)
            pid, tid = (int(x, 16) for x in re.search(
                r"thread:p([0-9a-f]+)\.([0-9a-f]+);", created).groups())
            self.assertEqual(pid, leader)
            self.assertNotEqual(tid, leader)
            self.assertIn("p%x.%x" % (pid, tid), client.request("qfThreadInfo"))
            # Off again: the program runs on without a word until interrupted.
            self.assertEqual(client.request("QThreadEvents:0"), "OK")
            client.sock.sendall(client.frame("vCont;c"))
            client.sock.sendall(b"\x03")
            self.assertTrue(client.read_packet().startswith("T02"))
            self.assertEqual(client.request("vKill;%x" % pid), "OK")


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

    def test_info_os_types_and_columns_as_gdbserver(self):
        commands = ["info os", "info os cpus", "info os procgroups", "info os threads", "info os files",
                    "info os sockets", "info os shm", "info os semaphores", "info os msg",
                    "info os modules", "info os unknown_entry", "kill"]
        shapes = []
        for kind in ("gostub", "gdbserver"):
            with DebugServer(kind, ["/bin/sleep", "30"]) as server:
                out = run_gdb(None, server.port, commands)
                pid = int(re.search(r"pid = (\d+)", server.output()).group(1))
            # The type list and each table's header are the server's; the rows are the host's.
            shapes.append([re.sub(r"\s+", " ", line).strip() for line in out.splitlines()
                           if re.match(r"(Type |\w+ +Listing of |pid |pgid |local address |key "
                                       r"|name |processor |warning: Empty data)", line)])
            if kind == "gostub":
                self.assertRegex(out, r"\n%d +sleep +%d +/bin/sleep 30" % (pid, pid))
                self.assertRegex(out, r"\n%d +sleep +%d +\d+" % (pid, pid))
                self.assertRegex(out, r"\n%d +sleep +1 +/\S+" % pid)
        self.assertEqual(shapes[0], shapes[1])
        self.assertIn("sockets Listing of all internet-domain sockets", shapes[0])

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
