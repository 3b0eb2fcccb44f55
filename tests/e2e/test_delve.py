"""Delve drives Go programs through gostub started as lldb-server: `dlv exec --backend=lldb`
and `dlv dap` start `lldb-server gdbserver …` from PATH, so PATH gets a directory whose
lldb-server is a symlink to gostub, or (the oracle) to lldb-server-19 itself. The same Delve
script against both must print the same thing once pids and thread ids are normalised."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import GOSTUB, LLDB_SERVER, TIMEOUT, fixture  # noqa: E402

DLV = shutil.which("dlv")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SERVERS = {"gostub": GOSTUB, "lldb-server": Path(LLDB_SERVER)}
# lldb-server stops the program on every SIGURG and Delve resumes it; asynchronous preemption
# off keeps both runs free of that noise (Delve's own handling of SIGURG is not under test).
QUIET = {"GODEBUG": "asyncpreemptoff=1"}


def marker_line(marker):
    source = harness.FIXTURE_SOURCES / "delvefixture" / "main.go"
    for number, line in enumerate(source.read_text().splitlines(), 1):
        if f"marker:{marker}" in line:
            return number
    raise KeyError(marker)


def binary_source():
    return harness.FIXTURE_SOURCES / "delvefixture" / "main.go"


class LldbServerOnPath:
    """A directory holding `lldb-server`, a symlink to the server under test, and the
    environment that puts it first on PATH."""

    def __init__(self, kind):
        self.dir = tempfile.mkdtemp(prefix=f"dlv-{kind}-")
        os.symlink(SERVERS[kind], os.path.join(self.dir, "lldb-server"))
        self.env = dict(os.environ, PATH=f"{self.dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                        **QUIET)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


def normalise(text):
    out = []
    for line in ANSI.sub("", text).splitlines():
        # lldb-server's own stdout line, there or not depending on when its buffer is flushed.
        if line.startswith("Launched '"):
            continue
        line = re.sub(r"\(thread \d+\)", "(thread T)", line)
        line = re.sub(r"PID \d+", "PID P", line)
        line = re.sub(r"/tmp/[^ :]*\.dlv:", "SCRIPT:", line)
        # A Go function's result slots are uninitialised stack until it returns.
        line = re.sub(r"^(~r\d+) = .*", r"\1 = ?", line)
        # The runtime's own goroutines and the waiters: their ids, order and whether they are
        # parked yet depend on the scheduler. Their number is kept ("[7 goroutines]").
        if re.search(r"Goroutine \d+ - User: .*runtime\.gopark", line):
            continue
        line = re.sub(r"Goroutine \d+ - User: .* main\.waiter .*", "Goroutine W - main.waiter", line)
        out.append(line.rstrip())
    return out


def run_dlv_script(kind, binary, commands):
    """`dlv exec --backend=lldb` with `commands` as its init script (which ends with exit)."""
    script = tempfile.NamedTemporaryFile("w", suffix=".dlv", delete=False)
    script.write("\n".join(commands) + "\n")
    script.close()
    try:
        with LldbServerOnPath(kind) as path:
            done = subprocess.run(
                [DLV, "exec", "--backend=lldb", "--allow-non-terminal-interactive", "--init",
                 script.name, str(binary)], env=path.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
            return done.stdout
    finally:
        os.unlink(script.name)


@unittest.skipUnless(DLV, "dlv (Debian's delve) is not installed")
class DelveCommandLine(unittest.TestCase):
    maxDiff = None

    def test_scripted_session_matches_lldb_server(self):
        binary = fixture("delvefixture")
        commands = [
            "break main.inspect",
            "continue",
            "goroutines",
            "goroutine 1 bt",
            "args",
            "next",
            "next",
            "locals",
            "print p",
            "print m",
            "print s",
            "print p.Name",
            "call add(10, 20)",
            "step",
            "args",
            "stepout",
            "next",
            "locals",
            "restart",
            "continue",
            "print s[1]",
            "exit",
        ]
        raw = run_dlv_script("gostub", binary, commands)
        ours = normalise(raw)
        # What Delve must have shown, whatever the reference says.
        text = "\n".join(ours)
        self.assertIn(f"at {binary_source()}:{marker_line('main-call')}", text)  # goroutine 1 bt
        self.assertIn(f"> main.inspect() {binary_source()}:{marker_line('inspect-first')} (PC: ",
                      text)
        self.assertIn('main.Point {X: 3, Y: 4, Name: "origin"}', text)
        self.assertIn('\t"one": 1,', text)
        self.assertIn('[]string len: 2, cap: 2, ["alpha","beta"]', text)
        # step: into add (its first line, the func line); stepout: back, with its result.
        self.assertIn(f"> main.add() {binary_source()}:{marker_line('add-body') - 1} (PC: ", text)
        self.assertIn("~r0: 7", text)  # stepout's returned value
        self.assertIn("~r0: 30", text)  # call add(10, 20): runtime.debugCallV2 in the program
        self.assertIn("Process restarted with PID P", text)
        self.assertIn('"beta"', text)
        self.assertNotIn("could not", text)
        harness.matches_a_reference(
            self, ours, lambda: normalise(run_dlv_script("lldb-server", binary, commands)))


class LldbServerCommandLine(unittest.TestCase):
    """gostub started as lldb-server, without Delve: lldb-server's ways to connect, as
    lldb-server-19 does them."""

    def start(self, kind, args, **popen):
        with LldbServerOnPath(kind) as path:
            return subprocess.Popen([os.path.join(path.dir, "lldb-server"), *args],
                                    stdin=subprocess.DEVNULL, **popen)

    def launch_with_pipe(self, kind):
        """--pipe FD with port 0: the port comes back through the pipe, as text and a NUL."""
        read_end, write_end = os.pipe()
        server = self.start(kind, ["gdbserver", "127.0.0.1:0", "--pipe", str(write_end), "--",
                                   str(fixture("delvefixture"))],
                            pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
        os.close(write_end)
        text = b""
        while not text.endswith(b"\0"):
            chunk = os.read(read_end, 16)
            self.assertTrue(chunk, "the server closed the pipe without a port")
            text += chunk
        os.close(read_end)
        return server, int(text[:-1])

    def test_pipe_gives_the_port_and_the_session_speaks_lldb(self):
        for kind in ("gostub", "lldb-server"):
            with self.subTest(kind):
                server, port = self.launch_with_pipe(kind)
                client = harness.RspClient(port)
                try:
                    client.no_ack()
                    self.assertEqual(client.request("QThreadSuffixSupported"), "OK")
                    self.assertTrue(client.request("qRegisterInfo0").startswith("name:rax;"))
                    # Memory for the client, as Delve asks for it: mapped, writable, freed.
                    address = int(client.request("_M100,rwx"), 16)
                    self.assertEqual(client.request(f"M{address:x},2:c3c3"), "OK")
                    self.assertEqual(client.request(f"m{address:x},2"), "c3c3")
                    self.assertEqual(client.request(f"_m{address:x}"), "OK")
                    self.assertTrue(client.request(f"m{address:x},2").startswith("E"))
                    # The program is where it was: its first stop, at its entry point.
                    self.assertTrue(client.request("?").startswith("T13"))
                    client.send_raw(client.frame("k"))
                finally:
                    client.close()
                self.assertEqual(server.wait(timeout=TIMEOUT), 0)

    def test_reverse_connect(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            server = self.start("gostub", ["gdbserver", "--reverse-connect", f"127.0.0.1:{port}",
                                           "--", str(fixture("delvefixture"))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            connection, _ = listener.accept()
            with connection:
                connection.sendall(harness.RspClient.frame("qRegisterInfo2"))
                reply = b""
                while not re.search(rb"#[0-9a-f]{2}$", reply):
                    reply += connection.recv(4096)
                self.assertIn(b"name:rcx;", reply)
                connection.sendall(b"+" + harness.RspClient.frame("k"))
            self.assertEqual(server.wait(timeout=TIMEOUT), 0)

    def test_other_subcommands_are_refused(self):
        server = self.start("gostub", ["platform", "--listen", "*:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
        out, err = server.communicate(timeout=TIMEOUT)
        self.assertEqual(server.returncode, 1)
        self.assertIn("'platform' is not offered", err)
        server = self.start("gostub", ["gdbserver", "--bogus", ":0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
        out, err = server.communicate(timeout=TIMEOUT)
        self.assertEqual(server.returncode, 1)
        self.assertIn("error: unknown argument '--bogus'", err)


class DapClient:
    """Just enough of the Debug Adapter Protocol: requests, their responses, and the events
    that arrive meanwhile."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buffer = b""
        self.seq = 0
        self.events = []

    def _read_message(self):
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        header, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"Content-Length: (\d+)", header).group(1))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return json.loads(body)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("dlv dap closed the connection")
        self.buffer += data

    def request(self, command, **arguments):
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        while True:
            message = self._read_message()
            if message["type"] == "event":
                self.events.append(message)
            elif message["type"] == "response" and message["request_seq"] == self.seq:
                return message

    def event(self, name):
        """The next event `name`, waiting for it if it has not come yet."""
        while True:
            for i, event in enumerate(self.events):
                if event["event"] == name:
                    return self.events.pop(i)
            message = self._read_message()
            if message["type"] == "event":
                self.events.append(message)

    def close(self):
        self.sock.close()


def run_dap_session(kind, binary):
    """One DAP session through `dlv dap` with backend lldb; returns what it saw, as text."""
    source = str(harness.FIXTURE_SOURCES / "delvefixture" / "main.go")
    seen = []
    with LldbServerOnPath(kind) as path:
        dap = subprocess.Popen([DLV, "dap", "--listen=127.0.0.1:0"], env=path.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        try:
            port = None
            for line in dap.stdout:
                match = re.search(r"listening at: \S+:(\d+)", line)
                if match:
                    port = int(match.group(1))
                    break
            assert port, "dlv dap did not listen"
            client = DapClient(port)
            try:
                def ok(response):
                    assert response["success"], response
                    return response.get("body", {})

                ok(client.request("initialize", clientID="gostub-test", adapterID="go",
                                  linesStartAt1=True, columnsStartAt1=True, pathFormat="path"))
                ok(client.request("launch", request="launch", mode="exec", program=str(binary),
                                  backend="lldb", env=QUIET))
                client.event("initialized")
                body = ok(client.request("setBreakpoints", source={"path": source},
                                         breakpoints=[{"line": marker_line("inspect-first")}]))
                seen.append(f"breakpoints {[b['verified'] for b in body['breakpoints']]}")
                ok(client.request("configurationDone"))
                stopped = client.event("stopped")["body"]
                seen.append(f"stopped {stopped['reason']}")
                body = ok(client.request("setBreakpoints", source={"path": source},
                                         breakpoints=[{"line": marker_line("inspect-first")},
                                                      {"line": marker_line("add-body")}]))
                ok(client.request("continue", threadId=stopped["threadId"]))
                stopped = client.event("stopped")["body"]
                seen.append(f"stopped {stopped['reason']}")
                threads = ok(client.request("threads"))["threads"]
                seen.append(f"threads include the stopped one: "
                            f"{any(t['id'] == stopped['threadId'] for t in threads)}")
                frames = ok(client.request("stackTrace", threadId=stopped["threadId"],
                                           startFrame=0, levels=3))["stackFrames"]
                seen += [f"frame {f['name']} {Path(f['source']['path']).name}:{f['line']}"
                         for f in frames]
                scopes = ok(client.request("scopes", frameId=frames[1]["id"]))["scopes"]
                for scope in scopes:
                    variables = ok(client.request(
                        "variables", variablesReference=scope["variablesReference"]))["variables"]
                    seen += [f"{scope['name']}: {v['name']} = {v['value']}" for v in variables
                             if not v["name"].startswith("~")]
                ok(client.request("next", threadId=stopped["threadId"]))
                stopped = client.event("stopped")["body"]
                frames = ok(client.request("stackTrace", threadId=stopped["threadId"],
                                           startFrame=0, levels=1))["stackFrames"]
                seen.append(f"after next: {stopped['reason']} {frames[0]['name']} "
                            f"line {frames[0]['line']}")
                ok(client.request("disconnect", terminateDebuggee=True))
            finally:
                client.close()
            dap.wait(timeout=TIMEOUT)
        finally:
            if dap.poll() is None:
                dap.kill()
                dap.wait()
            dap.stdout.close()
    return seen


@unittest.skipUnless(DLV, "dlv (Debian's delve) is not installed")
class DelveDap(unittest.TestCase):
    maxDiff = None

    def test_dap_session_with_backend_lldb(self):
        binary = fixture("delvefixture")
        ours = run_dap_session("gostub", binary)
        self.assertEqual(ours[:3], ["breakpoints [True]", "stopped breakpoint",
                                    "stopped breakpoint"])
        self.assertIn(f"frame main.add main.go:{marker_line('add-body')}", ours)
        self.assertIn('Locals: p = main.Point {X: 3, Y: 4, Name: "origin"}', ours)
        self.assertIn("Locals: n = 3", ours)
        self.assertEqual(ours[-1], f"after next: step main.add line {marker_line('add-body') + 1}")
        harness.matches_a_reference(self, ours, lambda: run_dap_session("lldb-server", binary))


if __name__ == "__main__":
    unittest.main()
