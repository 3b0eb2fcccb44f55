"""`monitor print` (gdb's `monitor`, lldb's `process plugin packet monitor`) against Delve's
`print` at the same breakpoint (main.inspect in tests/fixtures/printfixture, which holds every
kind of Go value), with DWARF on Go 1.19-1.23; and on stripped builds, where `(TYPE)ADDR`,
package variables at their addresses and interface values must print as in the unstripped
build. Delve runs on its native backend: it is the reference here, not a client of gostub."""

import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import TIMEOUT, DebugServer, fixture, line_of, run_gdb  # noqa: E402

DLV = shutil.which("dlv")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MARK = "@@"

# Printed alike by both (after canon()).
SAME = ["i8", "u16", "i64", "f32", "f64", "c128", "yes", "up", "raw", "str", "empty", "long",
        "ints", "nilSlice", "many", "arr", "pt", "ptp", "nilPtr", "cycle", "m", "nilMap",
        "structMap", "nested", "dur", "fn", "req", "*req", "req.Header", "n", "main.counter",
        "greeting", "origin", "table", "ints[2]", "*ptp", 'm["b"]', "req.Point.Name"]
# Interfaces: Delve 1.20 reads Go 1.21+'s type names wrongly (internal/abi), so 1.19 only.
INTERFACES = ["iface", "ifaceStr", "ifacePtr", "nilIface", "sh", "err", "plainErr", "wrapped",
              "nilErr", "osErr", "anyGlobal", "errGlobal", "shape"]
# Shown differently on purpose (a channel's state, not the runtime's hchan; time.Time as a
# date): checked field by field.
OTHERS = ["ch", "unbuffered", "when", "grown", "nilChan", "zoned", "now"]


def canon(text):
    """Delve's print output and gostub's, made comparable: no whitespace outside string
    literals (Delve breaks lines and indents), no trailing commas, no run-dependent addresses."""
    out, quoted, escaped = [], False, False
    for c in text:
        if quoted:
            out.append(c)
            escaped = c == "\\" and not escaped
            if c == '"' and not escaped:
                quoted = False
            continue
        if c == '"':
            quoted = True
        if not c.isspace():
            out.append(c)
    joined = "".join(out)
    joined = re.sub(r",([\]}])", r"\1", joined)
    return re.sub(r"0x[0-9a-f]+", "0xA", joined)


def split_marked(text, exprs):
    """{expr: output} from text where each output follows a line holding MARK + index."""
    found, current = {}, None
    for line in ANSI.sub("", text).splitlines():
        match = re.search(rf'{MARK}(\d+)"?$', line.strip())
        if match:
            current = exprs[int(match.group(1))]
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return {k: "\n".join(v).strip() for k, v in found.items()}


def gostub_prints(binary, exprs, stop, gdb_file=True, frame_exprs=()):
    """monitor print of each expression at `stop`, through gdb."""
    commands = [f"break {stop}", "continue"]
    for i, expr in enumerate(exprs):
        commands += [f"echo {MARK}{i}\\n", f"monitor print {expr}"]
    commands += ["kill"]
    with DebugServer("gostub", [binary]) as server:
        out = run_gdb(binary if gdb_file else None, server.port, commands)
        log = server.output()
    prints = split_marked(out, list(exprs))
    return {k: "\n".join(line for line in v.splitlines() if not line.startswith("[Inferior"))
            for k, v in prints.items()}, log


def delve_prints(binary, exprs, stop, command="print"):
    script = tempfile.NamedTemporaryFile("w", suffix=".dlv", delete=False)
    lines = [f"break {stop}", "continue"]
    for i, expr in enumerate(exprs):
        lines += [f'print "{MARK}{i}"', f"{command} {expr}"]
    script.write("\n".join(lines + ["exit"]) + "\n")
    script.close()
    try:
        done = subprocess.run([DLV, "exec", "--check-go-version=false",
                               "--allow-non-terminal-interactive", "--init", script.name,
                               str(binary)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    finally:
        Path(script.name).unlink()
    return split_marked(done.stdout, list(exprs))


def stop_line():
    return f"main.go:{line_of('inspect', 'printfixture') + 1}"


@unittest.skipUnless(DLV, "dlv (Debian's delve) is not installed")
class PrintMatchesDelve(unittest.TestCase):
    maxDiff = None

    def compare(self, go):
        binary = fixture("printfixture", go=go, flavour="debug")
        exprs = SAME + OTHERS + (INTERFACES if go == "1.19" else [])
        ours, _ = gostub_prints(binary, exprs, stop_line())
        theirs = delve_prints(binary, exprs, stop_line())
        for expr in SAME + (INTERFACES if go == "1.19" else []):
            with self.subTest(go=go, expr=expr):
                self.assertEqual(canon(ours[expr]), canon(theirs[expr]))
        # A channel: its length, capacity and queue; a sender parked on the unbuffered one.
        self.assertEqual(ours["ch"], "chan int {len: 2, cap: 4, [7,8]}")
        self.assertIn("qcount: 2", theirs["ch"])
        self.assertIn("dataqsiz: 4", theirs["ch"])
        self.assertRegex(ours["unbuffered"],
                         r"^chan string \{len: 0, cap: 0, waiting to send: goroutines \[\d+\]\}$")
        self.assertIn("sendq: waitq<string> {", theirs["unbuffered"])
        self.assertEqual(ours["nilChan"], "chan string nil")
        self.assertEqual(ours["when"], "time.Time(2024-03-15T10:30:00.000000123Z)")
        self.assertTrue(theirs["when"].startswith("time.Time(2024-03-15T10:30:00Z)"))
        self.assertEqual(ours["zoned"], "time.Time(2024-03-15T11:30:00+01:00 CET)")
        # time.Now(): with a monotonic reading, in time.Local (UTC until first used).
        self.assertRegex(ours["now"], r"^time\.Time\(20\d\d-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d .*)\)$")
        # 40 entries over several buckets: the same entries, in each run's hash order.
        entries = lambda text: sorted(re.findall(r'(\d+): "(v\d+)"', text))  # noqa: E731
        self.assertEqual(len(entries(ours["grown"])), 40)
        self.assertEqual(entries(ours["grown"]), entries(theirs["grown"]))

    def test_go119(self):
        self.compare("1.19")

    def test_go121_to_123(self):
        for go in ("1.21", "1.22", "1.23"):
            if go in harness.available_toolchains():
                with self.subTest(go=go):
                    self.compare(go)


class PrintOptions(unittest.TestCase):
    def test_frames_goroutines_limits_and_bad_input(self):
        binary = fixture("printfixture", go="1.19", flavour="debug")
        exprs = ["-f 1 req", "-g 1 n", "-n 3 many", "-s 5 str", "-d 0 *req", "-f 99 req",
                 "bogus", "(main.Nope)0x1000", "(main.Point)0x10", "nilPtr.X", "ints[9]",
                 'm["zz"]', "nilMap[1]", "-g 999999 n", "req.Nope", "-x 1 n", "bigMap[9999]"]
        ours, _ = gostub_prints(binary, exprs, stop_line())
        self.assertTrue(ours["-f 1 req"].startswith('*main.Request {Method: "GET"'))
        self.assertEqual(ours["-g 1 n"], "5")
        self.assertEqual(ours["-n 3 many"], "[]int len: 100, cap: 100, [0,1,4,...+97 more]")
        self.assertEqual(ours["-s 5 str"], '"héll...+11 more"')
        self.assertRegex(ours["-d 0 *req"], r"Point: \(\*main\.Point\)\(0x[0-9a-f]+\)")
        self.assertIn("no frame 99", ours["-f 99 req"])
        self.assertIn("no variable bogus", ours["bogus"])
        self.assertIn("no type main.Nope", ours["(main.Nope)0x1000"])
        self.assertIn("cannot read memory at 0x10", ours["(main.Point)0x10"])
        self.assertIn("nil pointer dereference", ours["nilPtr.X"])
        self.assertIn("index 9 out of range", ours["ints[9]"])
        self.assertIn("key \"zz\" not found", ours['m["zz"]'])
        self.assertIn("the map is nil", ours["nilMap[1]"])
        self.assertIn("no goroutine 999999", ours["-g 999999 n"])
        self.assertIn("has no field Nope", ours["req.Nope"])
        self.assertIn("unknown option -x", ours["-x 1 n"])
        self.assertEqual(ours["bigMap[9999]"], "19998")


class PrintPie(unittest.TestCase):
    def test_position_independent_like_fixed(self):
        """A PIE (loaded at a bias): package variables, interfaces and a map, by name."""
        exprs = ["main.counter", "origin", "anyGlobal", "errGlobal", "shape", "table"]
        go = harness.available_toolchains()[-1]
        pie, _ = gostub_prints(fixture("printfixture", go=go, flavour="pie"), exprs,
                               "main.inspect")
        fixed, _ = gostub_prints(fixture("printfixture", go=go, flavour="debug"), exprs,
                                 "main.inspect")
        self.assertEqual(pie, fixed)


class PrintFromLldb(unittest.TestCase):
    def test_process_plugin_packet_monitor_print(self):
        binary = fixture("printfixture", go="1.23", flavour="debug")
        with DebugServer("gostub", [binary]) as server:
            out = harness.run_lldb(binary, server.port, [
                f"b {stop_line()}", "continue", "process plugin packet monitor print req.Point",
                "process plugin packet monitor print err", "kill"])
        self.assertIn('main.Point {X: 9, Y: 8, Name: "req"}', out)
        self.assertIn("error(*main.MyErr) *{Code: 7}", out)


class PrintGoroutineFrames(unittest.TestCase):
    def test_a_parked_goroutines_frame(self):
        """-g ID -f FRAME: main.worker's local, parked in a channel receive. Goroutine ids
        differ from run to run, so one session (raw RSP) finds the goroutine and its frame
        and prints there."""
        binary = fixture("printfixture", go="1.19", flavour="debug")
        line = f":{line_of('inspect', 'printfixture') + 1}"
        rows = subprocess.run([str(harness.GOSTUB), "lines", str(binary), "main.inspect"],
                              capture_output=True, text=True, check=True).stdout.splitlines()
        stop = next(int(row.split()[0], 16) for row in rows if row.endswith(line))
        with DebugServer("gostub", [binary]) as server:
            client = harness.RspClient(server.port, timeout=TIMEOUT)
            client.request("qSupported:multiprocess+;swbreak+")
            client.no_ack()
            client.request(f"Z0,{stop:x},1")
            reply = client.request("vCont;c")
            while not reply.startswith("T05"):
                reply = client.request(f"vCont;C{reply[1:3]};c" if reply[0] == "T"
                                       else "vCont;c")

            def monitor(command):
                client.console = ""
                client.request("qRcmd," + command.encode().hex())
                return client.console

            goroutine = re.search(r"Goroutine (\d+) \[chan receive\]",
                                  monitor("goroutines -u")).group(1)
            frame = re.search(r"#(\d+)\s+main\.worker ",
                              monitor(f"goroutine {goroutine}")).group(1)
            self.assertEqual(monitor(f"print -g {goroutine} -f {frame} job"),
                             'main.Job {ID: 77, Name: "parked"}\n')
            self.assertEqual(monitor(f"print -g {goroutine} -f {frame} id"), "77\n")
            self.assertEqual(monitor(f"print -g {goroutine} -f {frame} job.Name"), '"parked"\n')
            # Frame 0 is in the runtime, where there is no job.
            self.assertIn("no variable job", monitor(f"print -g {goroutine} job"))
            client.close()


class PrintStripped(unittest.TestCase):
    """Without DWARF: types from the runtime's type data. The program prints where its
    package variables and its request are; each is printed by address and compared with the
    unstripped build's answer by name."""
    maxDiff = None

    def test_stripped_like_unstripped(self):
        for go in harness.available_toolchains():
            with self.subTest(go=go):
                self.check(go)

    def check(self, go):
        stripped = fixture("printfixture", go=go, flavour="stripped")
        unstripped = fixture("printfixture", go=go, flavour="debug")
        names = {"counter": "int", "greeting": "string", "origin": "main.Point",
                 "anyGlobal": "interface {}", "errGlobal": "error", "shape": "main.Shape",
                 "table": "map[string]int", "current": "main.Request"}
        reference, _ = gostub_prints(unstripped, [f"main.{n}" for n in names], "main.inspect")
        # A first run tells the addresses (the same in every run of a non-PIE build).
        _, log = gostub_prints(stripped, ["main.counter"], "main.inspect", gdb_file=False)
        addresses = dict(re.findall(r"(\w+)=(0x[0-9a-f]+)", log.split("addresses:", 1)[1]
                                    .splitlines()[0]))
        exprs = [f"({t}){addresses[n]}" for n, t in names.items()]
        exprs += [f"(*main.Request){addresses['current']}", "main.counter"]
        ours, _ = gostub_prints(stripped, exprs, "main.inspect", gdb_file=False)
        for (name, _type), expr in zip(names.items(), exprs):
            self.assertEqual(canon(ours[expr]), canon(reference[f"main.{name}"]), expr)
        # Through a pointer: the same value, behind a '*'; heap addresses compared without.
        self.assertEqual(canon(ours[exprs[len(names)]]), "*" + canon(reference["main.current"]))
        self.assertIn("no DWARF", ours["main.counter"])


if __name__ == "__main__":
    unittest.main()
