"""gostub's reading of Go binaries against oracles it did not write: Go's own debug/gosym
(tests/oracle) for functions and lines, and `go version -m` for build info. Over every Go
toolchain we support, each build flavour, a cgo (externally linked) program, and stripped Go
programs from Debian (restic, hugo, prometheus)."""

import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import GOSTUB, TOOLCHAINS, debian_go_program, fixture, oracle  # noqa: E402


def run(*args):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"{args[0]} failed: {result.stderr}")
    return result.stdout


def binaries():
    for go in harness.available_toolchains():
        for flavour in harness.FLAVOURS:
            yield f"go{go}-{flavour}", fixture(go=go, flavour=flavour)
    for go in ("1.19", harness.available_toolchains()[-1]):
        for flavour in ("default", "stripped"):
            yield f"cgo-go{go}-{flavour}", fixture("cgofixture", go=go, flavour=flavour)
    for package in harness.DEBIAN_GO_PROGRAMS:
        yield f"debian-{package}", debian_go_program(package)


class AgainstGoSym(unittest.TestCase):
    def test_every_function_sampled_lines_and_line_tables(self):
        check = oracle()
        for name, binary in binaries():
            with self.subTest(binary=name):
                self.assertEqual(run(check, "functions", binary), run(GOSTUB, "functions", binary))
                addresses = run(check, "sample", binary, 500).split()
                self.assertGreater(len(addresses), 300)
                self.assertEqual(run(check, "symbolize", binary, *addresses),
                                 run(GOSTUB, "symbolize", binary, *addresses))
                for function in ("main.main", "runtime.main", "runtime.mallocgc"):
                    self.assertEqual(run(check, "lines", binary, function),
                                     run(GOSTUB, "lines", binary, function))

    def test_pclntab_found_without_its_section(self):
        # Renaming the section hides it; with the symbol table gostub follows runtime.pclntab,
        # without it gostub searches for the header.
        binary = fixture(go=harness.available_toolchains()[-1])
        expected = run(oracle(), "functions", binary)
        work = harness.CACHE / "renamed"
        work.mkdir(parents=True, exist_ok=True)
        for how, extra in (("symbol runtime.pclntab", []), ("header search", ["--strip-all"])):
            with self.subTest(how=how):
                renamed = work / how.split()[0]
                run("objcopy", *extra, "--rename-section", ".gopclntab=.renamed", binary, renamed)
                self.assertIn(how, run(GOSTUB, "info", renamed))
                self.assertEqual(expected, run(GOSTUB, "functions", renamed))


class AgainstTheRuntime(unittest.TestCase):
    def test_inlined_frames_match_runtime_callers_frames(self):
        # The fixture prints a pc inside two inlined calls and runtime.CallersFrames' answer.
        for go in harness.available_toolchains():
            for flavour in ("default", "stripped", "pie"):
                with self.subTest(go=go, flavour=flavour):
                    binary = fixture(go=go, flavour=flavour)
                    out = run(binary, "inline")
                    pc = int(out.split("pc=")[1].split()[0], 16)
                    entry, name = out.split("entry=")[1].split()[:2]
                    link_entry = next(int(line.split()[0], 16) for line in run(GOSTUB, "functions", binary).splitlines()
                                      if line.split()[2] == name)
                    bias = int(entry, 16) - link_entry  # non-zero for a PIE
                    expected = [line[len("frame "):] for line in out.splitlines() if line.startswith("frame ")]
                    got = run(GOSTUB, "symbolize", "--inline", binary, hex(pc - bias)).splitlines()
                    self.assertEqual(expected, [line.split(" ", 1)[1].removesuffix(" (inlined)") for line in got])
                    self.assertEqual(sum(line.endswith("(inlined)") for line in got), len(got) - 1)
                    if flavour == "default":
                        self.assertEqual(len(expected), 3, "the fixture's calls were not inlined")


class AgainstGoVersion(unittest.TestCase):
    def test_info_starts_with_what_go_version_m_prints(self):
        go = TOOLCHAINS[harness.available_toolchains()[-1]]
        for name, binary in binaries():
            with self.subTest(binary=name):
                info = run(GOSTUB, "info", binary)
                self.assertEqual(run(go, "version", "-m", binary), info.split("gostub:\n")[0])
                facts = dict(line.strip().split("\t", 1) for line in info.split("gostub:\n")[1].splitlines())
                # readelf is the oracle for the ELF facts.
                header = run("readelf", "-hlSW", binary)
                self.assertEqual(facts["pie"] == "yes", "DYN (Position-Independent" in header)
                self.assertEqual(facts["linking"] == "dynamic", "INTERP" in header)
                self.assertEqual(facts["symbol table"] == "present", " .symtab " in header)
                self.assertEqual(facts["dwarf"] != "absent",
                                 " .debug_info " in header or " .zdebug_info " in header)

    def test_errors_are_clear(self):
        result = subprocess.run([str(GOSTUB), "info", "/etc/passwd"], capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        self.assertIn("not an ELF file", result.stderr)
        result = subprocess.run([str(GOSTUB), "info", "/bin/ls"], capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        self.assertIn("no Go pclntab found", result.stderr)
        result = subprocess.run([str(GOSTUB), "lines", str(fixture()), "main.nosuch"],
                                capture_output=True, text=True)
        self.assertIn("no function main.nosuch", result.stderr)
        result = subprocess.run([str(GOSTUB), "symbolize", str(fixture()), "0x1", "zz"],
                                capture_output=True, text=True)
        self.assertEqual(result.stdout, "0x1 ?\n")
        self.assertIn("'zz' is not an address", result.stderr)


if __name__ == "__main__":
    unittest.main()
