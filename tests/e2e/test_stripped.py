"""Stripped Go programs (-ldflags=-s -w, what production builds ship) through gostub: gdb and
lldb get the symbols, line tables and call-frame information gostub rebuilds from pclntab
(`gostub symbols`), served to a client that has no copy of the program, or written to a file
for one that has. The oracle is the same client on the unstripped build of the same program:
the answers must be the same but for argument values (which need DWARF variables)."""

import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import GOSTUB, DebugServer, fixture, line_of, run_gdb, run_lldb  # noqa: E402

NOISE = re.compile(r"^(warning|Reading|Downloading|To |line to|\t|For more|section in|Kill the|"
                   r"\[New|\[Inferior|gostub:|_rt0|\d+\s+JMP|/tmp/\S+\.gdb:|\"Auto-loading|"
                   r"info \"\(gdb\)Auto)")


def normalise(text):
    out = []
    for line in text.splitlines():
        if not line.strip() or NOISE.search(line):
            continue
        line = re.sub(r"0x[0-9a-f]+", "ADDR", line)
        line = re.sub(r" \([^()]*\) at ", " () at ", line)  # argument values need DWARF variables
        line = re.sub(r'Thread \S+ "[^"]*"', "Thread", line)
        line = re.sub(r"ends at ADDR( <[^>]*>)?", "ends at ADDR", line)  # is_stmt rows differ
        out.append(line.rstrip())
    return out


def programs():
    """(name, stripped, unstripped, arguments, gdb commands) for each kind of build."""
    go_square = ["break main.square", f"break main.go:{line_of('square-call')}", "continue",
                 "bt", "info line *$pc", "continue", "bt", "finish", "next", "kill"]
    toolchains = harness.available_toolchains()
    for go in sorted({toolchains[0], toolchains[-1]}):
        yield (f"go{go}", fixture(go=go, flavour="stripped"), fixture(go=go, flavour="default"),
               ["basics"], go_square)
    # A PIE: symbols at link-time addresses, the client relocates them.
    pie = fixture(go=toolchains[-1], flavour="pie")
    stripped_pie = Path(tempfile.mkdtemp()) / "gofixture"
    subprocess.run(["strip", "-o", str(stripped_pie), str(pie)], check=True)
    yield "pie", stripped_pie, pie, ["basics"], go_square
    yield ("cgo", fixture("cgofixture", go=toolchains[-1], flavour="stripped"),
           fixture("cgofixture", go=toolchains[-1], flavour="default"), [],
           # gdb 13 breaks where the line table says prologue_end, as with Go's own DWARF. No
           # `finish`: after the C call Go may resume the goroutine on another thread, where
           # gdb's thread-bound return breakpoint misses it (with any server).
           ["break main.viaC", "continue", "bt 2", "info line *$pc", "kill"])


class StrippedPrograms(unittest.TestCase):
    def session(self, program, args, commands, local_file):
        with DebugServer("gostub", [program, *args]) as server:
            return run_gdb(local_file, server.port, commands)

    def test_gdb_with_no_local_file_gets_the_rebuilt_symbols(self):
        for name, stripped, unstripped, args, commands in programs():
            with self.subTest(program=name):
                expected = normalise(self.session(unstripped, args, commands, unstripped))
                self.assertTrue(any("main." in line for line in expected), expected)
                # gdb reads the program from gostub (qXfer:exec-file, vFile).
                served = self.session(stripped, args, commands, None)
                self.assertEqual(expected, normalise(served), served)

    def test_gdb_with_the_written_symbol_file(self):
        for name, stripped, unstripped, args, commands in programs():
            with self.subTest(program=name):
                output = Path(tempfile.mkdtemp()) / "with-symbols"
                summary = subprocess.run([str(GOSTUB), "symbols", str(stripped), "-o", str(output)],
                                         capture_output=True, text=True, check=True).stdout
                self.assertRegex(summary, r"\d+ functions, \d+ source files, \d+ line rows")
                expected = normalise(self.session(unstripped, args, commands, unstripped))
                ours = self.session(stripped, args, commands, output)
                self.assertEqual(expected, normalise(ours), ours)
                # Without them, gdb knows nothing (as with gdbserver).
                bare = self.session(stripped, args, ["break main.square"], stripped)
                self.assertIn('Function "main.square" not defined', bare)

    def test_lldb_with_target_symbols_add(self):
        _, stripped, _, args, _ = next(programs())
        output = Path(tempfile.mkdtemp()) / "with-symbols"
        subprocess.run([str(GOSTUB), "symbols", str(stripped), "-o", str(output)], check=True,
                       capture_output=True)
        with DebugServer("gostub", [stripped, *args]) as server:
            out = run_lldb(stripped, server.port,
                           [f"target symbols add -s {stripped} {output}", "b main.square",
                            "continue", "bt 1", "kill"])
        self.assertRegex(out, r"Breakpoint 1: where = \S+`main\.square \+ \d+, address")
        self.assertRegex(out, r"frame #0: 0x[0-9a-f]+ \S+`main\.square at main\.go:4\d")

    def test_refusals(self):
        unstripped = fixture(flavour="default")
        output = Path(tempfile.mkdtemp()) / "out"
        result = subprocess.run([str(GOSTUB), "symbols", str(unstripped), "-o", str(output)],
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        self.assertIn("has a symbol table or DWARF already", result.stderr)
        self.assertFalse(output.exists())
        result = subprocess.run([str(GOSTUB), "symbols", "/bin/true", "-o", str(output)],
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        self.assertIn("gostub:", result.stderr)
        result = subprocess.run([str(GOSTUB), "symbols", str(unstripped)], capture_output=True,
                                text=True)
        self.assertEqual(result.returncode, 2)
        


if __name__ == "__main__":
    unittest.main()
