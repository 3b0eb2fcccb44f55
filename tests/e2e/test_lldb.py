"""lldb-19 drives Go programs through gostub. lldb-server-19 is the oracle where it behaves:
the same lldb script against both must print the same thing once pids and addresses are
normalised. Both run the program with Go's asynchronous preemption off there, since
lldb-server stops the session on every SIGURG; the SIGURG tests run with it on."""

import re
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import DebugServer, fixture, line_of, normalise_lldb, run_lldb  # noqa: E402

QUIET = {"GODEBUG": "asyncpreemptoff=1"}


def file_bytes(binary, address, count):
    """The bytes the ELF file maps at `address` (program headers read with struct)."""
    import struct
    data = Path(binary).read_bytes()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_vaddr <= address < p_vaddr + p_filesz:
            start = p_offset + address - p_vaddr
            return data[start:start + count]
    raise ValueError(hex(address))


PROGRAM_OUTPUT = "origin:7,alpha,beta,gamma 49 42 gostub"


def session(kind, binary, args, commands, env=QUIET):
    with DebugServer(kind, [binary, *args], env=env) as server:
        out = run_lldb(binary, server.port, commands)
        pids = re.findall(r"Process (\d+)", out)[:1]
        # lldb-server hands the program's output to lldb; gostub, like gdbserver, leaves it on
        # its own stdout. That difference is by design, not compared.
        lines = [line for line in normalise_lldb(out, pids) if line != PROGRAM_OUTPUT]
        return lines, out


class DifferentialAgainstLldbServer(unittest.TestCase):
    maxDiff = None

    def differential(self, args, commands, flavour="debug"):
        binary = fixture(flavour=flavour)
        ours, raw = session("gostub", binary, args, commands)
        harness.matches_a_reference(self, ours,
                                    lambda: session("lldb-server", binary, args, commands)[0])
        return raw

    def test_breakpoints_registers_memory_and_exit(self):
        out = self.differential(["basics"], [
            "breakpoint set -n main.square",
            f"breakpoint set -f main.go -l {line_of('describe-call')}",
            "continue",
            "register read rip rsp fs_base",
            "continue",
            "bt 3",
            "register read eax ax al ah",
            "memory read -c 16 $sp",
            "memory read -s 8 -c 2 -f x $sp",
            "breakpoint delete -f",
            "continue",
        ])
        self.assertIn("stop reason = breakpoint 2.1", out)
        self.assertIn("stop reason = breakpoint 1.1", out)
        self.assertIn("exited with status = 3", out)

    def test_stepping(self):
        out = self.differential(["basics"], [
            f"breakpoint set -f main.go -l {line_of('square-call')}",
            "continue",
            "thread step-in",
            "thread step-over",
            "thread step-out",
            "thread step-inst",
            "process kill",
        ])
        self.assertIn("main.square", out)
        self.assertIn("killed", out)

    def test_detach(self):
        self.differential(["basics"], ["breakpoint set -n main.square", "continue", "detach"])


class LldbThroughGostub(unittest.TestCase):
    def test_no_sigurg_stop_in_ten_breakpoint_hits_with_busy_goroutines(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "threads", 8, 500]) as server:
            out = run_lldb(binary, server.port,
                           ["breakpoint set -n main.hit"] + ["continue"] * 10 + ["process kill"])
        # Ten stops after the first; lldb lists every thread that stopped at the breakpoint, as
        # with lldb-server, and no stop is for anything else.
        self.assertEqual(len(re.findall(r"Process \d+ stopped", out)), 11, out)
        reasons = re.findall(r"stop reason = ([^\n]+)", out)
        self.assertEqual(reasons[0], "signal SIGSTOP")
        self.assertEqual(set(reasons[1:]), {"breakpoint 1.1"})
        self.assertNotIn("SIGURG", out)

    def test_signals_use_lldbs_numbering_and_are_delivered(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "signal"]) as server:
            out = run_lldb(binary, server.port, ["continue"], on_signal=["bt 1", "continue"])
            server.wait()
            self.assertIn("handled user defined signal 1", server.output())
        self.assertIn("stop reason = signal SIGUSR1", out)
        self.assertIn("exited with status = 0", out)

    def test_pie_and_cgo_programs(self):
        for name, binary, args, function, status in [
                ("pie", fixture(flavour="pie"), ["basics"], "main.square", 3),
                ("cgo", fixture("cgofixture", flavour="default"), [], "main.viaC", 0)]:
            with self.subTest(name):
                with DebugServer("gostub", [binary, *args]) as server:
                    out = run_lldb(binary, server.port, [
                        f"breakpoint set -n {function}", "continue", "bt 2", "continue"])
                self.assertIn("stop reason = breakpoint 1.1", out)
                self.assertRegex(out, rf"frame #0: 0x[0-9a-f]+ \w+`{re.escape(function)}")
                self.assertIn(f"exited with status = {status}", out)

    def test_flags_register_under_both_names(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"]) as server:
            out = run_lldb(binary, server.port, [
                "breakpoint set -n main.square", "continue", "register read rflags",
                "register read eflags", "process kill"])
        self.assertEqual(len(re.findall(r"eflags = 0x[0-9a-f]{8}\n\s+= \(.*IF = 1", out)), 2, out)

    def test_threads_are_listed_named_and_selectable(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "threads", 4, 1000]) as server:
            out = run_lldb(binary, server.port, [
                "breakpoint set -n main.hit", "continue", "thread list", "thread select 2",
                "bt 2", "process kill"])
        self.assertGreaterEqual(len(re.findall(r"thread #\d+: tid = \d+, 0x[0-9a-f]+ gofixture`", out)), 4)
        # Threads running a goroutine are named after it; the others keep the program's name.
        names = re.findall(r"thread #\d+: tid = \d+, [^\n]*name = '([^']+)'", out)
        self.assertTrue(all(re.fullmatch(r"gofixture|goroutine \d+ \S+", n) for n in names), names)
        self.assertTrue(any(n.startswith("goroutine ") for n in names), names)
        self.assertRegex(out, r"\* thread #2, name = '(gofixture|goroutine \d+ \S+)'")

    def test_process_interrupt(self):
        # lldb without a terminal ignores SIGINT; its async mode and `process interrupt` take
        # the same path as a user's Ctrl-C (the 0x03 byte).
        binary = fixture()
        with DebugServer("gostub", [binary, "spin"]) as server:
            out = run_lldb(binary, server.port, [
                "script lldb.debugger.SetAsync(True)",
                "continue",
                "script import time; time.sleep(1.5)",
                "process interrupt",
                "script time.sleep(1)",
                "script print('state', lldb.process.GetState() == lldb.eStateStopped,"
                " lldb.process.GetSelectedThread().GetStopDescription(100))",
                "script lldb.debugger.SetAsync(False)",
                "process kill",
            ])
            self.assertIn("spinning", server.output())
        self.assertIn("state True signal SIGINT", out)
        self.assertIn("killed", out)

    def test_binary_memory_reads_are_used_and_correct(self):
        binary = fixture()
        entry = next(int(line.split()[0], 16) for line in
                     harness.subprocess.run([str(harness.GOSTUB), "functions", str(binary)],
                                            capture_output=True, text=True).stdout.splitlines()
                     if line.endswith(" main.describe"))
        with DebugServer("gostub", [binary, "basics"], extra=["--remote-debug"]) as server:
            out = run_lldb(binary, server.port, [
                "breakpoint set -n main.square", "continue",
                f"memory read -s 1 -c 8 -f x {entry:#x}", "process kill"])
            # lldb reads through its cache in aligned blocks; all of them with x, none with m.
            self.assertRegex(server.output(), r"<- x[0-9a-f]+,[0-9a-f]+")
            self.assertNotRegex(server.output(), r"<- m[0-9a-f]+,")
        shown = re.search(rf"0x0*{entry:x}: ((?:0x[0-9a-f]{{2}} ?)+)", out).group(1).split()
        self.assertEqual(bytes(int(b, 16) for b in shown), file_bytes(binary, entry, 8))


class LldbRobustness(unittest.TestCase):
    def test_malformed_lldb_packets_get_errors_and_the_session_goes_on(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"]) as server:
            client = harness.RspClient(server.port)
            client.request("qSupported:xmlRegisters=i386;multiprocess+")
            self.assertEqual(client.request("QThreadSuffixSupported"), "OK")
            # lldb-server 19 crashes on an escape at the end of a binary packet.
            for bad in ["X1000,1:}", "x1000", "xzz,4", "qThreadStopInfozz", "qMemoryRegionInfo:zz",
                        "p10;thread:zz;", "g;thread:999999;", "qThreadStopInfo1"]:
                self.assertRegex(client.request(bad), r"^E[0-9a-f]{2}$", bad)
            self.assertEqual(client.request("x0,0"), "OK")
            self.assertIn("pid:", client.request("qProcessInfo"))
            self.assertIn("triple:", client.request("qHostInfo"))
            self.assertTrue(client.request("jThreadsInfo").startswith("["))
            client.close()



def lldb_without_a_process(binary, port, commands):
    """lldb in batch mode waits at `gdb-remote` for a stop that a server with no program never
    sends (with lldb-server too): connect in async mode, then go on synchronously."""
    args = ["lldb-19", "--no-lldbinit", "-b", "-o", "script lldb.debugger.SetAsync(True)",
            "-o", f"gdb-remote 127.0.0.1:{port}", "-o", "script lldb.debugger.SetAsync(False)"]
    for command in commands:
        args += ["-o", command]
    return harness.run_client(args + [str(binary)], harness.TIMEOUT)


class LaunchAndAttachThroughGostub(unittest.TestCase):
    """gostub --multi: lldb launches (QSetSTDOUT…, QSetWorkingDir, QEnvironment, A,
    qLaunchSuccess) or attaches (vAttach) after `gdb-remote`."""

    def test_process_launch_with_settings_then_breakpoints(self):
        binary = fixture()
        workdir = Path(tempfile.mkdtemp())
        output = workdir / "out.txt"
        with DebugServer("gostub", [], extra=["--multi"]) as server:
            out = lldb_without_a_process(binary, server.port, [
                "breakpoint set -n main.square",
                f"process launch -w {workdir} -E GOSTUB_TEST=lldb -i /dev/null -o {output} "
                f"-e {workdir / 'err.txt'} -- environment x 'y z'",
                "process status", "continue"])
            server.wait()
        self.assertIn("launched: ", out)
        self.assertIn("exited with status = 0", out)
        self.assertEqual(output.read_text().splitlines()[0],
                         f'GOSTUB_TEST="lldb" HOME_SET=true cwd={workdir} args=["x" "y z"]')
        self.assertEqual((workdir / "err.txt").read_text(), "to stderr\n")
        with DebugServer("gostub", [], extra=["--multi"]) as server:
            out = lldb_without_a_process(binary, server.port, [
                "breakpoint set -n main.square", "process launch -o /dev/null -- basics",
                "bt 1", "process kill"])
        self.assertIn("stop reason = breakpoint 1.1", out)
        self.assertRegex(out, r"frame #0: .*main\.square")

    def test_process_attach_and_detach(self):
        binary = fixture()
        program = subprocess.Popen([str(binary), "spin"], stdout=subprocess.PIPE, text=True)
        try:
            program.stdout.readline()
            with DebugServer("gostub", [], extra=["--multi"]) as server:
                out = lldb_without_a_process(binary, server.port, [
                    f"process attach -p {program.pid}", "thread list", "detach"])
            self.assertIn(f"Process {program.pid} stopped", out)
            self.assertIn("name = 'goroutine", out)
            self.assertIn("detached", out)
            time.sleep(0.2)
            self.assertIsNone(program.poll())
        finally:
            program.kill()
            program.wait()


if __name__ == "__main__":
    unittest.main()
