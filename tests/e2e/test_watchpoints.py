"""Hardware watchpoints and breakpoints, vector registers and $_siginfo, through real gdb and
lldb, against GNU gdbserver and lldb-server-19 where they are right.

The watchpoint scripts are differential: gostub's normalised output must equal the reference
server's. Whether a watchpoint fires at all is up to the machine: a virtual machine may accept
the debug registers and never deliver their traps (then gdbserver's watchpoints never fire
either, and the hit counts are not checked: the test says so)."""

import re
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import DebugServer, fixture, normalise, normalise_lldb, run_gdb, run_lldb  # noqa: E402

FIXTURE = "watchfixture"
QUIET = {"GODEBUG": "asyncpreemptoff=1"}  # lldb-server stops the session on every SIGURG
TOOLCHAINS = [go for go in ("1.19", "1.23") if go in harness.available_toolchains()]
NO_TRAPS = ("this machine does not deliver debug-register traps (the reference server's "
            "watchpoints never fire either): hits not checked")
# What gostub says on such a machine; its hardware breakpoints are int3s there.
NO_TRAPS_NOTICE = "gostub: this machine does not deliver debug-register traps"


def line_of(marker):
    return harness.line_of(marker, FIXTURE)


def binary_for(go="1.19"):
    return fixture(FIXTURE, go=go)


def symbol_address(binary, name):
    out = subprocess.run(["nm", str(binary)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2] == name:
            return int(fields[0], 16)
    raise KeyError(name)


def without_scheduling(lines):
    """Which OS thread a goroutine runs on is the Go scheduler's choice, and differs from run to
    run (the writer may move before it locks its thread): gdb's thread numbers and its
    "[Switching to Thread]" notices are left out of the comparison."""
    return [re.sub(r'^Thread \d+ "NAME" hit', 'Thread N "NAME" hit', line) for line in lines
            if not line.startswith("[Switching to Thread")]


def gdb_session(kind, binary, args, commands, env=None):
    with DebugServer(kind, [binary, *args], env=env) as server:
        out = run_gdb(binary, server.port, commands)
        server.wait()
        pid = re.search(r"pid = (\d+)", server.output()).group(1)
        return without_scheduling(normalise(out, [pid])), out, server.output()


def gdb_differential(test, args, commands, go="1.19"):
    """gostub's normalised output equals gdbserver's; returns gostub's raw output, its
    server's output, and the reference's normalised output."""
    binary = binary_for(go)
    ours, raw, server_output = gdb_session("gostub", binary, args, commands)
    reference = []

    def run_reference():
        try:
            reference[:] = gdb_session("gdbserver", binary, args, commands)[0]
        except subprocess.TimeoutExpired:  # gdbserver hangs now and then: a noisy oracle
            reference[:] = ["(the reference session hung)"]
        return list(reference)

    harness.matches_a_reference(test, ours, run_reference)
    return raw, server_output, reference


def continues(count):
    return ["continue"] * count


class GdbWatchpoints(unittest.TestCase):
    maxDiff = None

    def test_watch_a_global_written_by_a_goroutine_on_another_thread(self):
        # The writer goroutine is locked to an OS thread that main (locked to the main thread)
        # cannot be: the hits come from a thread that did not exist at `watch` time... or did;
        # either way every one of its 100 writes must be reported once, in order.
        for go in TOOLCHAINS:
            with self.subTest(go=go):
                out, server_output, reference = gdb_differential(self, ["watch"], [
                    "break main.writer",
                    "continue",
                    "watch 'main.counter'",
                    *continues(101),
                ], go=go)
                self.assertIn("Hardware watchpoint 2: 'main.counter'", out)
                if not any("New value" in line for line in reference):
                    self.skipTest(NO_TRAPS)
                values = [int(v) for v in re.findall(r"New value = (\d+)", out)]
                self.assertEqual(values, list(range(1, 101)))
                # Each hit is told in the writer's frame, whose argument is the value written
                # (the line is the compiler's: the pc after the store may map to `func bump`).
                frames = [int(i) for i in re.findall(r"\bmain\.bump \(i=(\d+)\)", out)]
                self.assertEqual(frames, list(range(1, 101)))
                self.assertIn("counter 100", server_output)

    def test_conditional_watch_rwatch_awatch_and_hbreak(self):
        out, _, reference = gdb_differential(self, ["watch"], [
            "break main.writer",
            "continue",
            "watch 'main.counter' if 'main.counter' == 50",
            "continue",
            "delete",
            "continue",
        ])
        self.assertIn("Hardware watchpoint 2: 'main.counter'", out)
        fired = any("New value" in line for line in reference)
        if fired:
            self.assertEqual(re.findall(r"New value = (\d+)", out), ["50"])

        out, _, reference = gdb_differential(self, ["read"], [
            "break main.main",
            "continue",
            "rwatch 'main.readMe'",
            "awatch 'main.sink'",
            "info breakpoints",
            *continues(12),
        ])
        self.assertIn("Hardware read watchpoint 2: 'main.readMe'", out)
        self.assertIn("Hardware access (read/write) watchpoint 3: 'main.sink'", out)
        if not fired:
            self.skipTest(NO_TRAPS)
        self.assertIn("Value = 42", out)

    def test_hbreak_fires_on_every_machine(self):
        # Not differential: where the machine delivers no debug traps, gdbserver's hbreak never
        # fires; gostub's is an int3 there, reported as the hardware hit it stands for.
        binary = binary_for()
        with DebugServer("gostub", [binary, "read"]) as server:
            out = run_gdb(binary, server.port, [
                "hbreak main.triple", "continue", "bt 1", "info breakpoints", "delete",
                "continue"])
            server.wait()
            printed = server.output()
        self.assertIn("Hardware assisted breakpoint 1 at", out)
        self.assertRegex(out, r"hit Breakpoint 1, main\.triple \(n=5[,)]")
        self.assertRegex(out, r"hw breakpoint +keep y .*\n\s+breakpoint already hit 1 time")
        self.assertRegex(printed, r"sink \d+ 15\n")  # triple(5) ran on past the hit
        self.assertRegex(out, r"\[Inferior 1 \(process \d+\) exited normally\]")

    def test_more_hardware_points_than_debug_registers(self):
        commands = [
            "break main.writer",
            "continue",
            "watch 'main.counter'",
            "watch 'main.readMe'",
            "watch 'main.sink'",
            "hbreak main.triple",
            "hbreak main.reader",  # the fifth: no debug register left
            "continue",
            "delete 6",
            "delete 2",
            "continue",
        ]
        _, raw, server_output = gdb_session("gostub", binary_for(), ["watch"], commands)
        if NO_TRAPS_NOTICE in server_output:
            # Hardware breakpoints take no debug register here: all five go in.
            self.assertNotIn("Could not insert", raw)
            self.skipTest(NO_TRAPS)
        out, _, _ = gdb_differential(self, ["watch"], commands)
        self.assertIn("Could not insert hardware breakpoint", out)

    def test_a_watched_goroutine_stack_that_moves_is_told(self):
        # deep() grows the goroutine's stack; the runtime copies it elsewhere. The debug
        # register cannot follow: gostub says where the variable went.
        binary = binary_for()
        after = line_of("after-grow")
        with DebugServer("gostub", [binary, "stack"]) as server:
            out = run_gdb(binary, server.port, [
                f"break main.go:{line_of('local')}",
                "continue",
                "set $where = &local",
                "watch *$where",
                f"break main.go:{after}",
                "python",
                "for _ in range(6):",
                "    gdb.execute('continue')",
                f"    if gdb.selected_frame().find_sal().line == {after}: break",
                "end",
                "p &local",
                "kill",
            ])
        moved = re.search(r"the variable is now at (0x[0-9a-f]+)", out)
        self.assertIsNotNone(moved, out)
        self.assertIn("moved goroutine", out)
        now = re.findall(r"\(int \*\) (0x[0-9a-f]+)", out)
        self.assertEqual(now[-1], moved.group(1))


class GdbRegistersAndSiginfo(unittest.TestCase):
    maxDiff = None

    def test_ymm_registers_match_gdbserver_and_reach_the_cpu(self):
        # Printed as bytes in hex: pids are normalised away, and a pid's digits must not
        # occur inside a printed number.
        commands = [
            "continue",
            "p/x $ymm0.v32_int8",
            "p/x $xmm0.v16_int8",
            "set $ymm3.v4_int64[0] = 11",
            "set $ymm3.v4_int64[1] = 0",
            "set $ymm3.v4_int64[2] = 0",
            "set $ymm3.v4_int64[3] = 377957122048",  # 88 << 32
            "p/x $ymm3.v8_int32",
            "signal 0",
        ]
        out, server_output, _ = gdb_differential(self, ["vectors"], commands)
        self.assertIn("$1 = {" + ", ".join(hex(i) for i in range(1, 33)) + "}", out)
        self.assertIn("$3 = {0xb, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x58}", out)
        # What the program stored from Y3 after the trap: the values gdb set.
        stored = re.search(r"ymm3 \[([0-9 ]+)\]", server_output).group(1).split()
        self.assertEqual((stored[0], stored[28]), ("11", "88"))

    def test_zmm_and_mask_registers_where_the_cpu_has_avx512(self):
        if " avx512f" not in Path("/proc/cpuinfo").read_text():
            self.skipTest("no AVX-512 here")
        # Not compared with gdbserver: gdb 13's gdbserver reads AVX-512 state at fixed XSAVE
        # offsets, which are wrong on CPUs without MPX (this one: k1 reads 0 there). gostub
        # takes the offsets from CPUID; the fixture loaded Z2 from bytes 1..64 and K1 = 0x5a5a.
        binary = binary_for()
        with DebugServer("gostub", [binary, "vectors"]) as server:
            out = run_gdb(binary, server.port, [
                "continue", "p $zmm2.v16_int32", "p $k1", "p $zmm2.v64_int8[63]",
                "set $k1 = 7", "p $k1", "kill"])
        self.assertIn("{67305985, 134678021, 202050057, 269422093, 336794129, 404166165, "
                      "471538201, 538910237, 606282273, 673654309, 741026345, 808398381, "
                      "875770417, 943142453, 1010514489, 1077886525}", out)
        self.assertIn("$2 = 23130", out)
        self.assertIn("$3 = 64", out)
        self.assertIn("$4 = 7", out)

    def test_siginfo_after_a_nil_store_in_c(self):
        for go in TOOLCHAINS:
            with self.subTest(go=go):
                out, _, _ = gdb_differential(self, ["nil"], [
                    "continue",
                    "p $_siginfo.si_signo",
                    "p $_siginfo.si_code",
                    "p $_siginfo._sifields._sigfault.si_addr",
                    "set $_siginfo._sifields._sigfault.si_addr = (void *) 0x1234",
                    "p $_siginfo._sifields._sigfault.si_addr",
                    "kill",
                ], go=go)
                self.assertIn("received signal SIGSEGV", out)
                self.assertIn("$3 = (void *) 0x0", out)
                self.assertIn("$4 = (void *) 0x1234", out)

    def test_a_changed_siginfo_is_what_the_program_receives(self):
        # Go's runtime prints the fault address it was given: the one gdb set.
        binary = binary_for()
        with DebugServer("gostub", [binary, "nil"]) as server:
            out = run_gdb(binary, server.port, [
                "continue",
                "set $_siginfo._sifields._sigfault.si_addr = (void *) 0x1234",
                "continue",  # gostub then stops at runtime.throw (its fatal-error catch)
                "continue",
            ])
            server.wait()
            self.assertIn("addr=0x1234", server.output(), out)


class LldbWatchpoints(unittest.TestCase):
    maxDiff = None

    def lldb_session(self, kind, binary, args, commands):
        with DebugServer(kind, [binary, *args], env=QUIET) as server:
            out = run_lldb(binary, server.port, commands)
            pids = re.findall(r"Process (\d+)", out)[:1]
            # lldb-server hands the program's output to lldb; gostub leaves it on its stdout.
            # How many threads the runtime has started by then (lldb's thread numbers) varies.
            lines = [re.sub(r"thread #\d+", "thread #N", line)
                     for line in normalise_lldb(out, pids) if not line.startswith("counter ")]
            return lines, out

    def test_watchpoint_set_variable_and_expression(self):
        # lldb-19 has no Go plugin: it cannot name a Go variable, but it can name a C global
        # of the cgo program (`variable`) and watch any address (`expression`).
        binary = binary_for()
        counter = symbol_address(binary, "main.counter")
        commands = [
            "breakpoint set -n main.writer",
            "continue",
            "watchpoint set variable c_writes",
            # -l c: the frame's language (Go) has no type system in lldb
            f"watchpoint set expression -l c -w read_write -s 8 -- {counter:#x}",
            "watchpoint list",
            *continues(4),
        ]
        ours, raw = self.lldb_session("gostub", binary, ["watch"], commands)
        reference = []

        def run_reference():
            reference[:] = self.lldb_session("lldb-server", binary, ["watch"], commands)[0]
            return list(reference)

        harness.matches_a_reference(self, ours, run_reference)
        self.assertIn("Number of supported hardware watchpoints: 4", raw)
        self.assertIn("type = rw", raw)
        if not any("stop reason = watchpoint" in line for line in reference):
            self.skipTest(NO_TRAPS)
        self.assertIn("stop reason = watchpoint 1", raw)
        self.assertIn("stop reason = watchpoint 2", raw)

    def test_a_crash_stop_says_the_fault_address(self):
        binary = binary_for()
        commands = ["continue"]
        ours, raw = self.lldb_session("gostub", binary, ["nil"], commands)
        harness.matches_a_reference(
            self, ours, lambda: self.lldb_session("lldb-server", binary, ["nil"], commands)[0])
        self.assertIn("stop reason = signal SIGSEGV: address not mapped to object "
                      "(fault address: 0x0)", raw)


if __name__ == "__main__":
    unittest.main()
