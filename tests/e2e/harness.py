"""Shared machinery for the end-to-end tests: Go fixtures built once and cached, debug servers
(gostub or GNU gdbserver) started on a free port, gdb/lldb driven in batch mode, and output
normalised so that runs against different servers can be compared line by line."""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_SOURCES = REPO / "tests" / "fixtures"
BUILD = Path(os.environ.get("GOSTUB_BUILD", REPO / "build" / "default"))
GOSTUB = Path(os.environ.get("GOSTUB", BUILD / "server" / "gostub"))
# Benchmarks only: another gostub build run beside this one ("gostub-baseline"), so a change is
# measured before and after in the same run.
GOSTUB_BASELINE = os.environ.get("GOSTUB_BASELINE")
CACHE = Path(os.environ.get("GOSTUB_FIXTURE_CACHE", REPO / "build" / "fixtures"))

# Go toolchains: Debian's golang-go (1.19) and bookworm-backports' golang-1.2x-go.
TOOLCHAINS = {
    "1.19": "/usr/lib/go-1.19/bin/go",
    "1.21": "/usr/lib/go-1.21/bin/go",
    "1.22": "/usr/lib/go-1.22/bin/go",
    "1.23": "/usr/lib/go-1.23/bin/go",
}
FLAVOURS = {
    "debug": ["-gcflags=all=-N -l"],
    "default": [],
    "stripped": ["-ldflags=-s -w"],
    "pie": ["-buildmode=pie"],
}

TIMEOUT = 120
CGO_FIXTURES = {"cgofixture", "watchfixture", "forkfixture"}  # built with CGO_ENABLED=1


def available_toolchains():
    return [v for v, go in TOOLCHAINS.items() if Path(go).exists()]


def fixture(name="gofixture", go="1.19", flavour="debug"):
    """Builds tests/fixtures/NAME with one toolchain and flavour, once: the cache key is a hash
    of the sources and the build flags."""
    source = FIXTURE_SOURCES / name
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    digest.update(" ".join(FLAVOURS[flavour]).encode())
    out_dir = CACHE / f"go{go}" / flavour / digest.hexdigest()[:12]
    binary = out_dir / name
    if binary.exists():
        return binary
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on", CGO_ENABLED="0",
               GOCACHE=str(CACHE / "gocache" / go), GOPATH=str(CACHE / "gopath"),
               GOTOOLCHAIN="local")
    if flavour == "pie" or name in CGO_FIXTURES:
        env["CGO_ENABLED"] = "1"
    tmp = out_dir / (name + ".tmp")
    subprocess.run([TOOLCHAINS[go], "build", *FLAVOURS[flavour], "-o", str(tmp), "."],
                   cwd=source, env=env, check=True, timeout=600)
    tmp.rename(binary)
    return binary


ORACLE_SOURCE = REPO / "tests" / "oracle"
# Stripped Go programs built by Debian. dockerd is the largest, and its external linker merged
# pclntab into .data.rel.ro: no section names it.
DEBIAN_GO_PROGRAMS = {"restic": "usr/bin/restic", "hugo": "usr/bin/hugo",
                      "prometheus": "usr/bin/prometheus", "docker.io": "usr/sbin/dockerd"}


def oracle():
    """The debug/gosym oracle, built with the newest Go (which reads every pclntab format)."""
    newest = available_toolchains()[-1]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(ORACLE_SOURCE.glob("*"))))
    binary = CACHE / "oracle" / digest.hexdigest()[:12] / "oracle"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GOFLAGS="-mod=mod", GOCACHE=str(CACHE / "gocache" / newest),
                   GOTOOLCHAIN="local", CGO_ENABLED="0")
        subprocess.run([TOOLCHAINS[newest], "build", "-o", str(binary) + ".tmp", "."],
                       cwd=ORACLE_SOURCE, env=env, check=True, timeout=600)
        Path(str(binary) + ".tmp").rename(binary)
    return binary


def debian_go_program(package):
    """A stripped Go program that nobody here wrote, from Debian's package, unpacked (not
    installed: no services start)."""
    root = CACHE / "debian" / package
    binary = root / DEBIAN_GO_PROGRAMS[package]
    if binary.exists():
        return binary
    root.mkdir(parents=True, exist_ok=True)
    fetched = subprocess.run(["apt-get", "download", package], cwd=root, timeout=600,
                             capture_output=True, text=True)
    if fetched.returncode != 0:  # apt's note about its sandbox user is no error; failures are
        raise RuntimeError(f"apt-get download {package}: {fetched.stderr}")
    deb = next(root.glob(f"{package}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    deb.unlink()
    return binary


LLDB_SERVER = "/usr/lib/llvm-19/bin/lldb-server"


class DebugServer:
    """A gostub, gdbserver or lldb-server process listening on a free loopback port."""

    def __init__(self, kind, args, once=True, extra=(), env=None):
        self.kind = kind
        self.log = tempfile.NamedTemporaryFile(prefix=f"{kind}-", suffix=".log", delete=False)
        args = [str(a) for a in args]
        if kind == "lldb-server":
            # lldb-server prints no port; give it a free one and wait until it accepts.
            port = free_port()
            command = [LLDB_SERVER, "gdbserver", f"127.0.0.1:{port}", "--", *args]
        else:
            program = {"gostub": str(GOSTUB), "gostub-baseline": GOSTUB_BASELINE}.get(
                kind) or shutil.which("gdbserver")
            command = [program] + (["--once"] if once else []) + list(extra) + ["127.0.0.1:0", *args]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        env=None if env is None else dict(os.environ, **env))
        self.port = self._wait_for_listener(port) if kind == "lldb-server" else self._wait_for_port()

    def _wait_for_listener(self, port):
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lldb-server exited early:\n{self.output()}")
            if any(f":{port:04X} " in line and line.split()[3] == "0A"
                   for line in Path("/proc/net/tcp").read_text().splitlines()[1:]):
                return port
            time.sleep(0.02)
        raise RuntimeError(f"lldb-server did not listen:\n{self.output()}")

    def _wait_for_port(self):
        deadline = time.time() + 20
        while time.time() < deadline:
            match = re.search(r"Listening on port (\d+)", self.output())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early:\n{self.output()}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.kind} did not listen:\n{self.output()}")

    def output(self):
        return Path(self.log.name).read_text(errors="replace")

    def wait(self, timeout=30):
        return self.process.wait(timeout=timeout)

    def children(self):
        """The server's own children (its program), which may be in a process group of their
        own: a tracer killed without PTRACE_O_EXITKILL (gdbserver, lldb-server) leaves its
        program running."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def close(self):
        if self.process.poll() is None:
            for child in self.children():
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        Path(self.log.name).unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# remotetimeout: over `target remote | gostub -`, gdb's first packet goes to a server still
# starting; an ASan build on a loaded machine can take longer than gdb's default 2 s to answer,
# and gdb then reads the late qSupported reply as the answer to its next packet.
GDB_PREAMBLE = ["set pagination off", "set confirm off", "set width 0", "set height 0",
                "set remotetimeout 10"]


def run_gdb(binary, port, commands, timeout=TIMEOUT, connect="target remote", signal_after=None):
    """Runs gdb in batch mode with `commands` after connecting; returns its combined output.
    signal_after=(pattern, file) sends SIGINT to gdb (a user's Ctrl-C) once `pattern` shows in
    the file."""
    script = tempfile.NamedTemporaryFile("w", suffix=".gdb", delete=False)
    lines = GDB_PREAMBLE + [f"{connect} 127.0.0.1:{port}"] + list(commands)
    script.write("\n".join(lines) + "\n")
    script.close()
    args = ["gdb", "-nx", "-batch", "-x", script.name]
    if binary is not None:
        args.append(str(binary))
    try:
        return run_client(args, timeout, signal_after)
    finally:
        os.unlink(script.name)


def run_client(args, timeout, signal_after=None):
    """Runs a debugger to completion and returns its output. signal_after=(pattern, watched)
    sends it SIGINT, a user's Ctrl-C, once `pattern` shows in watched()."""
    client = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True)
    if signal_after:
        pattern, watched = signal_after
        deadline = time.time() + timeout
        while time.time() < deadline and pattern not in watched():
            time.sleep(0.05)
        time.sleep(0.3)
        client.send_signal(signal.SIGINT)
    try:
        out, _ = client.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        client.kill()  # gdb ignores SIGTERM while it waits on a running target
        client.communicate()
        raise
    return out


def run_lldb(binary, port, commands, timeout=TIMEOUT, on_signal=()):
    """Runs lldb-19 in batch mode with `commands` after connecting; returns its output. In
    batch mode lldb stops running commands when the program stops for a signal, and runs
    `on_signal` (its -k commands) instead. (lldb without a terminal ignores SIGINT: use its
    async mode and `process interrupt` to interrupt.)"""
    args = ["lldb-19", "--no-lldbinit", "-b", "-o", f"gdb-remote 127.0.0.1:{port}"]
    for command in commands:
        args += ["-o", command]
    for command in on_signal:
        args += ["-k", command]
    args.append(str(binary))
    return run_client(args, timeout)


def normalise_lldb(text, pids=()):
    out = []
    for line in text.splitlines():
        for pid in pids:
            line = line.replace(str(pid), "PID")
        line = re.sub(r"tid = \d+", "tid = T", line)
        line = re.sub(r"name = '[^']*'", "name = 'NAME'", line)  # goroutine names: see normalise
        line = re.sub(r"Process \d+", "Process P", line)
        line = re.sub(r"0x[0-9a-f]{9,}", "0xADDR", line)
        line = re.sub(r"(~r\d+)=[^,)]+", r"\1=?", line)
        if line.startswith("(lldb) target create") or line.startswith("Current executable"):
            continue
        # Printed asynchronously, so its place among the lines varies.
        if "no plugin for the language" in line or line.startswith("Inspection of frame"):
            continue
        line = re.sub(r"gdb-remote 127\.0\.0\.1:\d+", "gdb-remote PORT", line)
        out.append(line.rstrip())
    return out


NOISE = [
    re.compile(p) for p in [
        r"auto-load", r"add-auto-load-safe-path", r"set auto-load safe-path", r"gdbinit",
        r"Auto-loading safe path", r"info \"\(gdb\)Auto-loading", r"^To enable execution",
        r"^To completely disable", r"^line to your configuration file", r"^For more information",
        r"^warning: File transfers from remote targets", r"^Reading .* from remote target",
        r"^$",
        # How many threads the Go runtime has started by a given stop depends on timing.
        r"^\[New Thread ", r"^\[Thread .* exited\]",
    ]
]


def normalise(text, pids=()):
    """Removes what legitimately differs between two runs: pids, thread ids, addresses that
    depend on the run, and gdb's notices about files."""
    out = []
    for line in text.splitlines():
        if any(p.search(line) for p in NOISE):
            continue
        line = re.sub(r"Thread \d+\.\d+", "Thread P.T", line)
        # gostub names threads after their goroutines (tested on its own); gdbserver cannot.
        line = re.sub(r'(Thread \S+ )"[^"]*"', r'\1"NAME"', line)
        for pid in pids:
            line = line.replace(str(pid), "PID")
        line = re.sub(r"LWP \d+", "LWP T", line)
        line = re.sub(r"process \d+", "process P", line)
        line = re.sub(r"0x[0-9a-f]{9,}", "0xADDR", line)
        line = re.sub(r"/tmp/\S+\.gdb:", "SCRIPT:", line)
        # A Go function's result slots are uninitialised stack until it returns.
        line = re.sub(r"(~r\d+)=[^,)]+", r"\1=?", line)  # heap and stack addresses
        out.append(line.rstrip())
    return out


def register_file_bytes():
    """The g packet's size in bytes on this machine: gdb's amd64-linux registers (560 bytes),
    then ymm0h-15h where the CPU has AVX and the AVX-512 registers where it has those."""
    flags = set(next((line.split(":", 1)[1].split() for line in
                      Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), []))
    size = 560
    if "avx" in flags:
        size += 16 * 16
        if "avx512f" in flags:
            size += 16 * 16 + 16 * 16 + 8 * 8 + 32 * 32
    return size


def line_of(marker, name="gofixture"):
    """The line of tests/fixtures/NAME/main.go that carries `// marker:MARKER`."""
    source = FIXTURE_SOURCES / name / "main.go"
    for number, line in enumerate(source.read_text().splitlines(), 1):
        if f"marker:{marker}" in line:
            return number
    raise KeyError(marker)


def matches_a_reference(test, ours, run_reference, tries=3):
    """Asserts that `ours` equals one of up to `tries` outputs of run_reference(). gdbserver
    and lldb-server are noisy oracles on Go (a SIGURG mid-step makes gdbserver re-report a
    breakpoint or lose a finish; lldb-server sometimes ends with "lost connection"), so the
    reference may be rerun; gostub's output is taken once."""
    references = []
    for _ in range(tries):
        reference = run_reference()
        if reference == ours:
            return
        references.append(reference)
    test.assertEqual(references[0], ours, "the output differs from the reference server's")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RspClient:
    """A minimal RSP client of our own, for what gdb never sends: malformed packets, abrupt
    disconnects, raw replies."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.ack = True
        self.console = ""

    def send_raw(self, data):
        self.sock.sendall(data)

    @staticmethod
    def frame(payload):
        if isinstance(payload, str):
            payload = payload.encode("latin-1")
        return b"$" + payload + b"#" + f"{sum(payload) % 256:02x}".encode()

    @staticmethod
    def expand_run_length(payload):
        # "X*n": n - 29 more copies of X (gdbserver compresses its replies this way).
        if b"*" not in payload:
            return payload
        out = bytearray()
        i = 0
        while i < len(payload):
            if payload[i] == ord("*") and out:
                out += bytes([out[-1]]) * (payload[i + 1] - 29)
                i += 2
            else:
                out.append(payload[i])
                i += 1
        return bytes(out)

    def read_packet(self):
        """The next reply; console output ("O" + hex) is collected in self.console."""
        while True:
            start = self.buffer.find(b"$")
            end = self.buffer.find(b"#", start + 1) if start >= 0 else -1
            if start >= 0 and end >= 0 and len(self.buffer) >= end + 3:
                payload = self.expand_run_length(self.buffer[start + 1:end])
                self.buffer = self.buffer[end + 3:]
                if self.ack:
                    self.sock.sendall(b"+")
                text = payload.decode("latin-1")
                if text.startswith("O") and text != "OK" and re.fullmatch(r"O[0-9a-f]+", text):
                    self.console += bytes.fromhex(text[1:]).decode(errors="replace")
                    continue
                return text
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk

    def request(self, payload):
        self.sock.sendall(self.frame(payload))
        return self.read_packet()

    def no_ack(self):
        reply = self.request("QStartNoAckMode")
        self.ack = False
        self.buffer = self.buffer.replace(b"+", b"")
        return reply

    def close(self):
        self.sock.close()


def wait_for(predicate, timeout=10):
    """Polls `predicate` until it holds or `timeout` seconds pass; returns whether it held."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def alive(pid):
    """Whether process `pid` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"
