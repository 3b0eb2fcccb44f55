"""The Debian package (packaging/CMakeLists.txt): built by CPack from the install rules, it holds
gostub, its man page, bash completion and documentation and nothing else; its Depends are
dpkg-shlibdeps' (every library gostub links, from the package that ships it, versioned); lintian
finds no error or warning; the man page renders and covers every option of --help and every
monitor command; and the README's demo works with the packaged gostub.

Run by ctest in the default build only (GOSTUB_BUILD_DIR names it)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import GOSTUB, REPO, TOOLCHAINS, fixture, run_gdb  # noqa: E402

BUILD_DIR = Path(os.environ.get("GOSTUB_BUILD_DIR", REPO / "build" / "default"))
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")

EXPECTED_FILES = {
    "usr/bin/gostub",
    "usr/share/man/man1/gostub.1.gz",
    "usr/share/bash-completion/completions/gostub",
    "usr/share/doc/gostub/copyright",
    "usr/share/doc/gostub/changelog.gz",
    "usr/share/doc/gostub/README.md",
    "usr/share/doc/gostub/ARCHITECTURE.md",
    "usr/share/doc/gostub/CONTAINERS.md",
    "usr/share/doc/gostub/PERFORMANCE.md",
}


def run(args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600,
                          **kwargs)


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        built = run([CMAKE, "--build", BUILD_DIR, "--target", "package"])
        if built.returncode != 0:
            raise RuntimeError(f"cmake --target package failed:\n{built.stdout}{built.stderr}")
        cls.version = run([GOSTUB, "--version"]).stdout.split()[1]
        cls.deb = BUILD_DIR / f"gostub_{cls.version}_amd64.deb"
        cls.root = Path(tempfile.mkdtemp(prefix="gostub-deb-"))
        subprocess.run(["dpkg-deb", "-x", str(cls.deb), str(cls.root)], check=True)
        cls.gostub = cls.root / "usr" / "bin" / "gostub"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def field(self, name):
        return run(["dpkg-deb", "-f", self.deb, name]).stdout.strip()

    def test_control(self):
        self.assertEqual(self.field("Package"), "gostub")
        self.assertEqual(self.field("Version"), self.version)
        self.assertEqual(self.field("Architecture"), "amd64")

    def test_version_lists_the_runtime_layouts_the_tests_check(self):
        lines = run([self.gostub, "--version"]).stdout.splitlines()
        self.assertEqual(lines[0], f"gostub {self.version}")
        for go in TOOLCHAINS:  # test_goroutines checks each layout against that Go's DWARF
            self.assertRegex(lines[1], rf" go{re.escape(go)}(?!\d)")

    def test_contents_are_gostub_and_its_documentation_only(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout.splitlines()
        files = {line.split()[-1].removeprefix("./") for line in listing if not line.startswith("d")}
        self.assertEqual(files, EXPECTED_FILES)  # no tests, no benchmarks, no libraries
        for line in listing:
            mode, owner = line.split()[:2]
            self.assertEqual(owner, "root/root", line)
            self.assertIn(mode, ("drwxr-xr-x", "-rwxr-xr-x", "-rw-r--r--"), line)
        sections = run(["readelf", "-S", "-W", self.gostub]).stdout
        self.assertNotIn(".debug_info", sections)
        self.assertNotIn(".symtab", sections)

    def test_depends_are_computed_from_the_linked_libraries(self):
        depends = {}
        for entry in self.field("Depends").split(","):
            match = re.fullmatch(r"\s*([a-z0-9.+-]+)\s*(\(.*\))?\s*", entry)
            self.assertIsNotNone(match, entry)
            depends[match.group(1)] = match.group(2)
        # The packages that ship the libraries the packaged gostub links (readelf's NEEDED,
        # located by ldd, owned according to dpkg -S), each with a minimum version.
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                            run(["readelf", "-d", self.gostub]).stdout)
        located = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", self.gostub]).stdout, re.M))
        owners = set()
        for library in needed:
            path = Path(located[library])
            candidates = {str(path), str(path.resolve())}
            candidates |= {c.removeprefix("/usr") for c in candidates}
            candidates |= {"/usr" + c for c in candidates if not c.startswith("/usr")}
            for candidate in candidates:
                owner = run(["dpkg", "-S", candidate])
                if owner.returncode == 0:
                    owners.add(owner.stdout.split(":")[0])
                    break
            else:
                self.fail(f"no package owns {library} ({path})")
        self.assertEqual(set(depends), owners)
        for package, version in depends.items():
            self.assertRegex(version or "", r"^\(>= .+\)$", package)

    def test_lintian_finds_no_error_or_warning(self):
        if not shutil.which("lintian"):
            self.skipTest("lintian is not installed (scripts/setup.sh installs it)")
        result = run(["lintian", "--fail-on", "error,warning", self.deb])
        # Left: I: hardening-no-fortify-functions (see packaging/CMakeLists.txt).
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(re.findall(r"^[EW]: .*", result.stdout, re.M), [])

    def render_man_page(self):
        page = self.root / "usr/share/man/man1/gostub.1.gz"
        result = run(["man", "--warnings", "-l", page],
                     env=dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="100"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "", "groff warnings")
        text = re.sub(r".\x08", "", result.stdout)  # any overstrike left
        return text.replace("\u2010", "-").replace("\u2212", "-")

    def test_man_page_renders_and_names_every_option(self):
        text = self.render_man_page()
        self.assertIn(f"gostub {self.version}", text)
        for section in ("SYNOPSIS", "OPTIONS", "COMMANDS", "MONITOR COMMANDS", "EXIT STATUS",
                        "SECURITY", "EXAMPLES"):
            self.assertRegex(text, rf"(?m)^{section}$")
        help_text = run([self.gostub, "--help"]).stdout
        options = set()  # CLI11's lines: "  -h,--help   Print...", "  --catch TEXT=...  Where..."
        for line in help_text.split("Options:")[1].split("\n\n")[0].splitlines():
            if line.lstrip().startswith("-"):
                options |= set(line.split()[0].split(","))
        self.assertGreaterEqual(len(options), 9, help_text)
        options_section = text.split("\nOPTIONS\n")[1].split("\nCOMMANDS\n")[0]
        for option in options:
            self.assertRegex(options_section, rf"(?<![\w-]){re.escape(option)}(?![\w-])",
                             f"{option} of --help is not in the man page's OPTIONS")
        # The offline commands, as the tools' own usage message names them.
        usage = run([self.gostub, "info"]).stderr
        commands = re.findall(r"(?:usage: gostub |\| )([a-z]+) ", usage)
        self.assertGreaterEqual(len(commands), 6, usage)
        footer = help_text.split("Usage:")[-1]
        for command in commands:
            self.assertIn(f"gostub {command} ", text, f"{command} is not in the man page")
            self.assertRegex(footer, rf"(gostub|\|) {command} ", f"{command} is not in --help")
            self.assertIn(command, self.complete(command[:3]), f"{command} is not completed")

    def test_man_page_names_every_monitor_command(self):
        out = run_gdb(fixture(), None, ["monitor help"],
                      connect=f"target remote | {self.gostub} - {fixture()} basics #")
        listed = out.split("gostub monitor commands:")[1]
        commands = set()  # "  eval EXPR    from...", "  set goroutine-threads on|off"
        for line in listed.splitlines():
            match = re.match(r"^  ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", line)
            if match:
                commands.add(match.group(1) + (f" {match.group(2)}" if match.group(1) == "set"
                                               else ""))
        self.assertGreaterEqual(len(commands), 8, out)
        section = self.render_man_page().split("\nMONITOR COMMANDS\n")[1].split("\nEXIT STATUS")[0]
        for command in commands:
            self.assertRegex(section, rf"(?m)^ {{7}}{re.escape(command)}\b",
                             f"monitor {command} is not in the man page")

    def complete(self, *words):
        script = (f"source {self.root}/usr/share/bash-completion/completions/gostub\n"
                  f"COMP_WORDS=({' '.join(repr(w) for w in ('gostub',) + words)})\n"
                  f"COMP_CWORD={len(words)}\n_gostub\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
        result = run(["bash", "-c", script])
        self.assertEqual(result.returncode, 0, result.stderr)
        return set(result.stdout.split())

    def test_bash_completion(self):
        self.assertEqual(self.complete("--ca"), {"--catch"})
        self.assertEqual(self.complete("--goroutine-threads", "--o"), {"--once"})
        self.assertEqual(self.complete("--catch", "re"), {"recovered-panic"})
        self.assertEqual(self.complete("--catch", "panic,t"), {"panic,throw"})
        self.assertEqual(self.complete("sym"), {"symbolize", "symbols"})
        self.assertIn(str(os.getpid()), self.complete("--attach", str(os.getpid())))
        self.assertIn(str(self.gostub), self.complete("info", str(self.gostub)))

    def test_packaged_gostub_runs_the_readme_demo(self):
        result = run(["bash", REPO / "scripts" / "demo.sh"], env=dict(os.environ,
                                                                       GOSTUB=str(self.gostub)))
        out = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, out)
        self.assertIn("hit Breakpoint 1, main.checkout", out)
        self.assertIn("revenue: 130.45", out)
        self.assertIn("exited normally", out)
        self.assertRegex(out, r"gostub: goroutine \d+ panicked: runtime error: index out of range "
                              r"\[5\] with length 3")
        self.assertRegex(out, r"in main\.checkout \(order=.*main\.go:\d+")
        self.assertRegex(out, r"\* Goroutine \d+ \[running\] runtime\.fatalpanic")
        self.assertRegex(out, r"\n  Goroutine 1 \[[a-z ]+\] ")  # its state depends on timing
        self.assertRegex(out, r"\[\d+ goroutines\]")
        self.assertRegex(out, r"\[Inferior 1 \(process \d+\) killed\]")


if __name__ == "__main__":
    unittest.main()
