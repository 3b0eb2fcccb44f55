"""Goroutines visible from gdb and lldb (issue 4). The oracle is the Go runtime itself: the
fixture's "goroutines" mode parks goroutines in every common way, writes runtime.Stack(buf,
true) to a file and then calls main.stacksDumped, where the tests stop the program and ask
gostub. Its goroutine list and each goroutine's stack must agree with the runtime's."""

import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import GOSTUB, DebugServer, fixture, run_gdb, run_lldb  # noqa: E402

PARKED = 20
GOROUTINE_LINE = re.compile(
    r"^[ *] Goroutine (\d+) \[([^\]]*)\] (\S+)(?: at [^ ]+)? \((0x[0-9a-f]+)\)"
    r"(?: thread (\d+))?(?: labels \{([^}]*)\})?$", re.M)
FRAME_LINE = re.compile(r"^    #\d+ +(\S+)(?: at \S+)? \((0x[0-9a-f]+)\)( \(inlined\))?$", re.M)


def runtime_stacks(text):
    """runtime.Stack's text -> {id: (status, [function, ...])}, frames innermost first."""
    stacks = {}
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        header = re.match(r"goroutine (\d+) \[([^\]]*)\]:", lines[0])
        status = header.group(2).split(", ")[0]  # ", 2 minutes", ", locked to thread"
        functions = []
        for line in lines[1:]:
            if line.startswith("\t") or line.startswith("created by "):
                if line.startswith("created by "):
                    break
                continue
            functions.append(re.sub(r"\([^()]*\)$", "", line))  # drop the argument list
        stacks[int(header.group(1))] = (status, functions)
    return stacks


def shown_by_runtime_stack(function):
    """runtime.Stack's filter (runtime/traceback.go showfuncinfo at level 1): unexported
    runtime functions and compiler wrappers are hidden."""
    if "." not in function or re.search(r"\.gowrap\d+$|-fm$", function):
        return False
    if function.startswith("runtime."):
        name = function[len("runtime."):]
        return function == "runtime.gopanic" or name[:1].isupper()
    return True


def is_subsequence(short, long):
    it = iter(long)
    return all(any(item == other for other in it) for item in short)


def function_address(binary, name):
    out = subprocess.run([str(GOSTUB), "functions", str(binary)], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields[-1] == name:
            return fields[0]
    raise AssertionError(f"no {name} in {binary}")


class GoroutinesAgainstRuntimeStack(unittest.TestCase):
    def check_against_runtime(self, listing, details, dump):
        runtime = runtime_stacks(dump)
        ours = {int(m.group(1)): m for m in GOROUTINE_LINE.finditer(listing)}
        self.assertEqual(set(ours), set(runtime), listing)  # -u: the runtime's own selection
        self.assertGreaterEqual(len(ours), PARKED + 8)
        for goid, (status, functions) in runtime.items():
            with self.subTest(goroutine=goid):
                mine = [m.group(1) for m in FRAME_LINE.finditer(details[goid])]
                visible = [f for f in mine if shown_by_runtime_stack(f)]
                if status in ("running", "runnable") and mine == ["runtime.asyncPreempt2"]:
                    # Known limitation (README): a spinner caught inside the runtime's
                    # asynchronous preemption, switching to g0, shows that frame alone.
                    continue
                self.assertTrue(is_subsequence(functions, visible),
                                f"{functions} not in {visible}\n{details[goid]}")
                if status in ("running", "runnable"):  # spinners: still spinning
                    self.assertIn(ours[goid].group(2), ("running", "runnable"))
                elif goid != 1:  # goroutine 1 went on to the breakpoint
                    self.assertEqual(ours[goid].group(2), status)
                    if status != "syscall":  # ours: the thread's registers, in the kernel call
                        self.assertEqual(visible[0], functions[0])
        statuses = [m.group(2) for m in ours.values()]
        for status in ["chan receive", "select", "sleep", "syscall"]:
            self.assertIn(status, statuses)
        self.assertTrue({"sync.Mutex.Lock", "semacquire"} & set(statuses))
        labelled = [m for m in ours.values() if m.group(6)]
        self.assertEqual([m.group(6) for m in labelled], ["role=labelled"])
        running = [m for m in ours.values() if m.group(5)]
        self.assertTrue(running)  # goroutine 1 at least, on its thread

    def run_case(self, go, flavour, client):
        binary = fixture(go=go, flavour=flavour)
        dump = Path(tempfile.mkdtemp()) / "stacks.txt"
        breakpoint = function_address(binary, "main.stacksDumped")
        # The listing first, then each user goroutine's details: ids are known only then.
        with DebugServer("gostub", [binary, "goroutines", PARKED, dump]) as server:
            ids = range(1, 200)
            if client == "gdb":
                out = run_gdb(binary, server.port, [f"break *{breakpoint}", "continue",
                                                    "monitor goroutines -u"]
                              + [f"monitor goroutine {i}" for i in ids] + ["kill"])
            else:
                out = run_lldb(binary, server.port, [
                    f"breakpoint set -a {breakpoint}", "continue",
                    "process plugin packet monitor goroutines -u"]
                    + [f"process plugin packet monitor goroutine {i}" for i in ids]
                    + ["process kill"])
        details = {int(m.group(1)): m.group(0)
                   for m in re.finditer(r"^Goroutine (\d+) \[.*?(?=^Goroutine |\Z|^no goroutine)",
                                        out, re.M | re.S)}
        self.check_against_runtime(out, details, dump.read_text())

    def test_every_go_version_with_and_without_dwarf_through_gdb(self):
        for go in harness.available_toolchains():
            for flavour in ["default", "stripped"]:
                with self.subTest(go=go, flavour=flavour):
                    self.run_case(go, flavour, "gdb")

    def test_lldb(self):
        for go, flavour in [("1.19", "stripped"), (harness.available_toolchains()[-1], "default")]:
            with self.subTest(go=go, flavour=flavour):
                self.run_case(go, flavour, "lldb")


class RuntimeLayouts(unittest.TestCase):
    def test_tables_agree_with_each_toolchains_dwarf(self):
        # gostub's tables serve stripped binaries; the oracle reads the same facts from the
        # DWARF and runtime.waitReasonStrings of a binary built with that toolchain.
        for go in harness.available_toolchains():
            with self.subTest(go=go):
                debug = fixture(go=go, flavour="debug")
                expected = subprocess.run([str(harness.oracle()), "layout", str(debug)],
                                          capture_output=True, text=True, check=True).stdout
                expected += subprocess.run([str(harness.oracle()), "waitreasons", str(debug)],
                                           capture_output=True, text=True, check=True).stdout
                ours = subprocess.run([str(GOSTUB), "layout", str(fixture(go=go,
                                                                          flavour="stripped"))],
                                      capture_output=True, text=True, check=True).stdout
                self.assertEqual(sorted(ours.splitlines()), sorted(expected.splitlines()))


class FindingAllgs(unittest.TestCase):
    def allgs_lines(self, binary):
        out = subprocess.run([str(GOSTUB), "info", str(binary)], capture_output=True, text=True,
                             check=True).stdout
        return dict((how, int(address, 16)) for address, how in
                    re.findall(r"runtime\.allgs\t(0x[0-9a-f]+) \(([^)]*)\)", out))

    def test_decoded_from_code_where_the_symbol_table_says(self):
        # Capstone's answer is checked against the symbol table of the same binary, so the
        # stripped binaries' answers come from the same code path that is checked here.
        for go in harness.available_toolchains():
            with self.subTest(go=go):
                found = self.allgs_lines(fixture(go=go, flavour="default"))
                code = [address for how, address in found.items() if how.startswith("code:")]
                self.assertTrue(code, found)
                self.assertEqual(set(code), {found["symbol"]})
                stripped = self.allgs_lines(fixture(go=go, flavour="stripped"))
                self.assertNotIn("symbol", stripped)
                self.assertTrue(any(how.startswith("code:") for how in stripped))

    def test_asks_the_client_with_qsymbol_when_stripped(self):
        # gdb holds the binary with symbols; gostub runs the same binary, stripped.
        binary = fixture(go=harness.available_toolchains()[-1], flavour="default")
        stripped = Path(tempfile.mkdtemp()) / "gofixture"
        subprocess.run(["objcopy", "--strip-all", str(binary), str(stripped)], check=True)
        dump = Path(tempfile.mkdtemp()) / "stacks.txt"
        with DebugServer("gostub", [stripped, "goroutines", PARKED, dump]) as server:
            out = run_gdb(binary, server.port, ["break main.stacksDumped", "continue",
                                                "monitor info", "kill"])
        symbol = self.allgs_lines(binary)["symbol"]
        self.assertIn(f"runtime.allgs {symbol:#x} (qSymbol)", out)


class Filters(unittest.TestCase):
    def test_running_waiting_and_count_filters(self):
        binary = fixture(go=harness.available_toolchains()[-1], flavour="default")
        dump = Path(tempfile.mkdtemp()) / "stacks.txt"
        with DebugServer("gostub", [binary, "goroutines", PARKED, dump]) as server:
            out = run_gdb(binary, server.port, [
                "break main.stacksDumped", "continue", "echo ==all\\n", "monitor goroutines",
                "echo ==r\\n", "monitor goroutines -r", "echo ==w\\n",
                "monitor goroutines -w chan receive", "echo ==n\\n", "monitor goroutines -n 3",
                "echo ==one\\n", "monitor goroutine 1", "echo ==limited\\n",
                "monitor goroutine 1 -n 2",
                "echo ==bad\\n", "monitor goroutines -x", "monitor goroutine 999999",
                "monitor goroutine x", "monitor goroutine 1 -n 0", "kill"])
        sections = dict(re.findall(r"^==(\w+)\n(.*?)(?=^==|\Z)", out, re.M | re.S))
        every = GOROUTINE_LINE.findall(sections["all"])
        # Without -u the runtime's own goroutines are listed too (one of its helpers may be
        # busy at the stop, so any of them parked in its usual place will do).
        helpers = {"GC sweep wait", "GC scavenge wait", "force gc (idle)", "finalizer wait"}
        self.assertTrue(any(status in helpers for _, status, *_ in every), sections["all"])
        self.assertTrue(all(s == "running" for _, s, *_ in GOROUTINE_LINE.findall(sections["r"])))
        waiting = GOROUTINE_LINE.findall(sections["w"])
        self.assertGreaterEqual(len(waiting), PARKED + 1)
        self.assertTrue(all(s == "chan receive" for _, s, *_ in waiting))
        self.assertEqual(len(GOROUTINE_LINE.findall(sections["n"])), 3)
        self.assertIn(f"[{len(every)} goroutines, 3 shown]", sections["n"])
        self.assertIn("unknown argument '-x'", sections["bad"])
        self.assertIn("no goroutine 999999", sections["bad"])
        self.assertIn("'x' is not a goroutine id", sections["bad"])
        self.assertIn("-n takes a positive frame count, not '0'", sections["bad"])
        # A frame limit says how many frames it left out.
        frames = re.findall(r"^    #\d+ ", sections["one"], re.M)
        self.assertGreater(len(frames), 2, sections["one"])
        self.assertEqual(len(re.findall(r"^    #\d+ ", sections["limited"], re.M)), 2)
        self.assertIn(f"... {len(frames) - 2} more frames ('monitor goroutine 1 -n {len(frames)}'",
                      sections["limited"])


class GoroutineThreads(unittest.TestCase):
    def test_parked_goroutines_as_threads_in_gdb(self):
        binary = fixture(go=harness.available_toolchains()[-1], flavour="default")
        dump = Path(tempfile.mkdtemp()) / "stacks.txt"
        with DebugServer("gostub", [binary, "goroutines", PARKED, dump],
                         extra=["--goroutine-threads"]) as server:
            out = run_gdb(binary, server.port, [
                "break main.stacksDumped", "continue", "info threads",
                "thread apply all bt", "echo ==refused\\n",
                "monitor set goroutine-threads off", "info threads", "kill"])
        before, after = out.split("==refused")
        runtime = runtime_stacks(dump.read_text())
        chan_ids = [goid for goid, (status, _) in runtime.items() if status == "chan receive"]
        for goid in chan_ids:
            tid = 1_000_000_000 + goid
            self.assertRegex(before, rf"Thread \d+\.{tid} \"goroutine {goid} [^\"]*\[chan receive\]\"")
            # gdb unwinds the parked goroutine's stack from the registers gostub gives it.
            block = re.search(rf"^Thread \d+ \(Thread \d+\.{tid} .*?(?=\n\nThread |\Z)", before,
                              re.S | re.M).group(0)
            self.assertIn("main.blockOnChannel", block)
        self.assertNotRegex(after, r"Thread \d+\.1000000\d+")

    def test_parked_goroutines_as_threads_in_lldb(self):
        binary = fixture(go="1.19", flavour="default")
        dump = Path(tempfile.mkdtemp()) / "stacks.txt"
        with DebugServer("gostub", [binary, "goroutines", PARKED, dump],
                         extra=["--goroutine-threads"]) as server:
            out = run_lldb(binary, server.port, [
                "breakpoint set -n main.stacksDumped", "continue", "thread list",
                "thread backtrace all", "process kill"])
        runtime = runtime_stacks(dump.read_text())
        for goid, (status, _) in runtime.items():
            if status != "chan receive":
                continue
            tid = 1_000_000_000 + goid
            self.assertRegex(out, rf"tid = {tid}, .* name = 'goroutine {goid} [^']*\[chan receive\]'")
            block = re.search(rf"^\* thread #\d+, name = 'goroutine {goid} .*?(?=^\* thread|\Z)|"
                              rf"^  thread #\d+, name = 'goroutine {goid} .*?(?=^  thread|\Z)",
                              out, re.S | re.M)
            self.assertIsNotNone(block, out)
            self.assertIn("main.blockOnChannel", block.group(0))

    def test_parked_goroutine_threads_cannot_run_or_change(self):
        binary = fixture(go=harness.available_toolchains()[-1], flavour="default")
        dump = Path(tempfile.mkdtemp()) / "stacks.txt"
        with DebugServer("gostub", [binary, "goroutines", PARKED, dump]) as server:
            out = run_gdb(binary, server.port, [
                "break main.stacksDumped", "continue", "monitor set goroutine-threads on",
                "info threads", "thread 9", "bt 3", "set var $rax = 1", "stepi",
                "thread 1", "monitor set goroutine-threads off", "kill"])
        self.assertIn("goroutine-threads: on", out)
        self.assertIn("cannot run it or change its registers", out)
        self.assertIn("Could not write register", out)


class GoidRegister(unittest.TestCase):
    """$goid, Go's pseudo-register (feature org.golang.go): the id runtime.Stack prints for the
    goroutine a thread runs, readable from gdb and lldb and usable in the conditions gostub
    evaluates, so that `break f if $goid == N` stops only goroutine N."""

    def test_goid_filters_hits_in_the_server_on_every_toolchain(self):
        for go in ("1.19", harness.available_toolchains()[-1]):
            with self.subTest(go=go):
                binary = fixture(go=go)
                # Calls enough that no other worker is done before the filtered rounds.
                with DebugServer("gostub", [binary, "threads", "8", "20000"],
                                 extra=["--remote-debug"]) as server:
                    out = run_gdb(binary, server.port, [
                        "break main.hit", "ignore 1 20", "continue", "p $goid", "p worker",
                        "python gdb.execute('condition 1 $goid == %d' % "
                        "int(gdb.parse_and_eval('$goid')))",
                        "echo ==filtered\\n", "p main.hits",
                        *["continue", "p $goid", "p worker"] * 8,
                        "p main.hits", "p $g != 0", "set $goid = $goid + 1", "kill"])
                    log = server.output()
                goid, worker = map(int, re.search(r"\$1 = (\d+)\n\$2 = (\d+)", out).groups())
                # The runtime's own word for that worker's goroutine (runtime.Stack's header).
                self.assertRegex(log, rf"(?m)^worker {worker} {goid}$")
                after = out.split("==filtered")[1]
                self.assertEqual(after.count("hit Breakpoint 1"), 8, after)
                self.assertEqual(re.findall(r"\$\d+ = (\d+)\n\$\d+ = \d+\n", after)[:8],
                                 [str(goid)] * 8)
                # Other goroutines hit main.hit meanwhile (goroutine N added 8 to the count;
                # eight rounds, as one round can end before any other thread got to run);
                # gdb heard of none of them: the condition went to gostub (Z0 with an agent
                # expression) and its stop replies for breakpoints are those gdb saw.
                before_hits = int(re.search(r"\$3 = (\d+)", after).group(1))
                after_hits = int(re.search(r"\$\d+ = (\d+)\n\$\d+ = true\n", after).group(1))
                self.assertGreater(after_hits - before_hits, 8)
                self.assertRegex(log, r"<- Z0,[0-9a-f]+,1;X")
                self.assertEqual(log.count("swbreak:;"), 21 + 8)  # ignore 20, then 8
                self.assertIn("read-only", after)

    def test_lldb_reads_goid_and_g(self):
        binary = fixture(go="1.19")
        with DebugServer("gostub", [binary, "threads", "2", "5"]) as server:
            out = run_lldb(binary, server.port, [
                "breakpoint set -n main.hit", "continue", "register read goid g",
                "process kill"])
            log = server.output()
        goid = int(re.search(r"goid = (\d+)", out).group(1))
        # lldb has no Go: the runtime's line for whichever worker it is must name that id.
        self.assertRegex(log, rf"(?m)^worker \d+ {goid}$")
        self.assertRegex(out, r"\bg = 0x000000c0[0-9a-f]{8}")


if __name__ == "__main__":
    unittest.main()
