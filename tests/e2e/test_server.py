"""gostub's command-line contract (gdbserver's), transports, and what happens when clients
misbehave: malformed packets, vanishing, reconnecting."""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import alive, wait_for  # noqa: E402
import harness  # noqa: E402
from harness import GOSTUB, DebugServer, RspClient, fixture, run_gdb  # noqa: E402

# What $SHELL (or /bin/sh) says of a program it cannot exec: bash "PROG: No such file or
# directory", dash "exec: PROG: not found".
MISSING_PROGRAM = r"%s: (No such file or directory|not found)"


def launched_pid(server):
    return int(re.search(r"pid = (\d+)", server.output()).group(1))


class CommandLine(unittest.TestCase):
    def run_gostub(self, *args, timeout=20):
        return subprocess.run([str(GOSTUB), *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def test_version_and_help(self):
        result = self.run_gostub("--version")
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout, r"^gostub \d+\.\d+\.\d+")
        result = self.run_gostub("--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn("--attach", result.stdout)
        self.assertIn("[HOST]:PORT PROG", result.stdout)

    def test_usage_errors_are_reported(self):
        self.assertNotEqual(self.run_gostub().returncode, 0)
        result = self.run_gostub("nonsense", "/bin/true")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("[HOST]:PORT", result.stderr)
        result = self.run_gostub(":0", "/no/such/program")
        self.assertNotEqual(result.returncode, 0)
        # The shell gostub starts it with says so (bash and dash word it differently), then
        # gostub, in gdbserver's words.
        self.assertRegex(result.stderr, MISSING_PROGRAM % "/no/such/program")
        self.assertIn("During startup program exited with code 127.", result.stderr)
        result = self.run_gostub("--no-startup-with-shell", ":0", "/no/such/program")
        self.assertIn("Cannot exec /no/such/program", result.stderr)
        result = self.run_gostub(":0", "--attach", "999999999")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Cannot attach to process 999999999", result.stderr)

    def test_messages_and_busy_port_match_gdbserver(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"]) as server:
            lines = server.output().splitlines()
            self.assertRegex(lines[0], rf"^Process {re.escape(str(binary))} created; pid = \d+$")
            self.assertEqual(lines[1], f"Listening on port {server.port}")
            busy = self.run_gostub(f":{server.port}", str(binary))
            self.assertIn("Can't bind address: Address already in use.", busy.stderr)
            self.assertNotEqual(busy.returncode, 0)
            # The program it had launched died with the server that could not listen.
            orphan = int(re.search(r"pid = (\d+)", busy.stderr).group(1))
            self.assertTrue(wait_for(lambda: not alive(orphan)))

    def test_listens_on_loopback_unless_told_otherwise(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"]) as server:
            listening = subprocess.run(["ss", "-ltnH", f"sport = :{server.port}"],
                                       capture_output=True, text=True).stdout
            if listening:  # ss is in iproute2; the check is skipped without it
                self.assertIn("127.0.0.1:", listening)
        proc = subprocess.Popen([str(GOSTUB), "--once", "0.0.0.0:0", str(binary), "basics"],
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        try:
            self.assertTrue(wait_for(lambda: proc.poll() is None, 2))
            line = ""
            while "Listening" not in line:
                line += proc.stderr.readline()
            self.assertIn("anyone who can reach this port controls the program", line)
        finally:
            proc.kill()
            proc.wait()


class ProgramEnvironment(unittest.TestCase):
    """The launched program's relations to gostub and the terminal, as with gdbserver."""

    def start_on_pty(self, *args):
        import pty
        master, slave = pty.openpty()
        def take_terminal():  # a session of its own, with the pty as controlling terminal
            import fcntl
            import termios
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        proc = subprocess.Popen([str(GOSTUB), "--once", "127.0.0.1:0", *map(str, args)],
                                stdin=slave, stdout=slave, stderr=slave, preexec_fn=take_terminal)
        os.close(slave)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(),
                                 os.close(master)))
        return proc, master

    @staticmethod
    def read_until(master, pattern, timeout=20):
        text = ""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                text += os.read(master, 4096).decode(errors="replace")
            except OSError:
                break
            match = re.search(pattern, text)
            if match:
                return match, text
        raise AssertionError(f"{pattern!r} not seen in {text!r}")

    def test_program_is_our_child_in_its_own_foreground_process_group(self):
        binary = fixture()
        proc, master = self.start_on_pty(binary, "identity")
        port = int(self.read_until(master, r"Listening on port (\d+)")[0].group(1))
        run_gdb(binary, port, ["continue"])
        match, _ = self.read_until(master, r"pid=(\d+) ppid=(\d+) pgid=(\d+) foreground=(-?\d+)")
        pid, ppid, pgid, foreground = map(int, match.groups())
        self.assertEqual(ppid, proc.pid)
        self.assertEqual(pgid, pid)
        self.assertEqual(foreground, pid)

    def test_ctrl_c_on_the_terminal_reaches_the_program(self):
        binary = fixture()
        proc, master = self.start_on_pty(binary, "spin")
        port = int(self.read_until(master, r"Listening on port (\d+)")[0].group(1))
        gdb = subprocess.Popen(["gdb", "-nx", "-batch", *sum([["-ex", c] for c in [
            "set confirm off", f"target remote 127.0.0.1:{port}", "continue", "kill"]], []),
            str(binary)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.read_until(master, r"spinning")
        os.write(master, b"\x03")  # the terminal's Ctrl-C: SIGINT to its foreground group
        out, _ = gdb.communicate(timeout=60)
        self.assertIn("received signal SIGINT", out)


class Transports(unittest.TestCase):
    def test_stdio_transport_for_target_remote_pipe(self):
        binary = fixture()
        out = run_gdb(binary, None, ["break main.square", "continue", "bt 1", "continue"],
                      connect=f"target remote | {GOSTUB} - {binary} basics #")
        self.assertIn("hit Breakpoint 1, main.square (n=7", out)
        self.assertIn("exited with code 03", out)

    def test_attach_debug_and_detach_leaves_the_program_running(self):
        binary = fixture()
        program = subprocess.Popen([str(binary), "spin"], stdout=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL)
        try:
            program.stdout.readline()  # "spinning"
            with DebugServer("gostub", ["--attach", program.pid]) as server:
                self.assertIn(f"Attached; pid = {program.pid}", server.output())
                out = run_gdb(binary, server.port, [
                    "info threads", "break main.square", "continue", "bt 1", "detach"])
                self.assertIn("hit Breakpoint 1, main.square", out)
                self.assertIn("detached]", out)
                server.wait()
            time.sleep(0.3)
            self.assertIsNone(program.poll(), "the attached program must run on")
            status = Path(f"/proc/{program.pid}/status").read_text()
            self.assertRegex(status, r"TracerPid:\s+0")
            self.assertNotIn("(stopped)", status)
        finally:
            program.kill()
            program.wait()

    def test_extended_remote_attaches_to_the_launched_program(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"]) as server:
            out = run_gdb(binary, server.port, ["break main.square", "continue", "bt 1", "kill"],
                          connect="target extended-remote")
            self.assertIn("hit Breakpoint 1, main.square", out)


class LaunchAndAttachFromTheClient(unittest.TestCase):
    """gostub --multi, as gdbserver --multi: gdb's extended-remote `run` (vRun, with the
    environment, directory and arguments gdb sets) and `attach` (vAttach)."""

    def run_with_settings(self, kind, binary, workdir):
        with DebugServer(kind, [], extra=["--multi"]) as server:
            out = run_gdb(binary, server.port, [
                f"set remote exec-file {binary}", "set args environment a 'b c'",
                "set environment GOSTUB_TEST=hello world", f"set cwd {workdir}",
                "break main.main", "run", "bt 1", "continue", "run", "continue"],
                connect="target extended-remote")
            time.sleep(0.3)
            return out, server.output()

    def test_run_passes_environment_directory_and_arguments_like_gdbserver(self):
        binary = fixture()
        workdir = Path(tempfile.mkdtemp())
        printed = {}
        for kind in ["gostub", "gdbserver"]:
            out, server_output = self.run_with_settings(kind, binary, workdir)
            self.assertEqual(out.count("hit Breakpoint 1, main.main"), 2, out)  # run, run again
            self.assertEqual(out.count("exited normally"), 2, out)
            printed[kind] = re.findall(r"^GOSTUB_TEST=.*$", server_output, re.M)
        self.assertEqual(printed["gostub"],
                         [f'GOSTUB_TEST="hello world" HOME_SET=true cwd={workdir} '
                          'args=["a" "b c"]'] * 2)
        self.assertEqual(printed["gostub"], printed["gdbserver"])

    def test_run_without_a_program_and_with_a_missing_one_is_an_error(self):
        binary = fixture()
        with DebugServer("gostub", [], extra=["--multi"]) as server:
            out = run_gdb(binary, server.port, ["run"], connect="target extended-remote")
            self.assertIn("no program: give one to gostub", server.output() + out)
        self.assertIn("Running the default executable on the remote target failed", out)
        with DebugServer("gostub", [], extra=["--multi"]) as server:
            out = run_gdb(binary, server.port, ["set remote exec-file /nonexistent/prog", "run"],
                          connect="target extended-remote")
            self.assertRegex(server.output(), MISSING_PROGRAM % "/nonexistent/prog")
            self.assertIn("During startup program exited with code 127.", server.output())
        self.assertIn('Running "/nonexistent/prog" on the remote target failed', out)

    def test_attach_then_detach_leaves_the_program_running(self):
        binary = fixture()
        program = subprocess.Popen([str(binary), "spin"], stdout=subprocess.PIPE, text=True)
        try:
            program.stdout.readline()  # "spinning": the runtime is up
            with DebugServer("gostub", [], extra=["--multi"]) as server:
                out = run_gdb(binary, server.port, [
                    f"attach {program.pid}", "info threads", "detach"],
                    connect="target extended-remote")
                self.assertIn(f"Attached; pid = {program.pid}", server.output())
            self.assertRegex(out, r"goroutine \d+ ")
            self.assertIn(f"[Inferior 1 (process {program.pid}) detached]", out)
            time.sleep(0.2)
            self.assertIsNone(program.poll())  # still running, untraced
            self.assertIn("TracerPid:\t0", Path(f"/proc/{program.pid}/status").read_text())
        finally:
            program.kill()
            program.wait()

    def test_remote_put_get_delete_move_files_as_with_gdbserver(self):
        binary = fixture()
        workdir = Path(tempfile.mkdtemp())
        local = workdir / "local"
        # Every byte value, the protocol's own $ # } * among them, in more than one packet.
        local.write_bytes(bytes(range(256)) * 1200)
        outputs = {}
        for kind in ["gostub", "gdbserver"]:
            remote, back = workdir / f"remote-{kind}", workdir / f"back-{kind}"
            with DebugServer(kind, [binary, "basics"]) as server:
                # gdb prints nothing for a transfer in batch mode; an error ends the script.
                out = run_gdb(binary, server.port, [
                    f"remote put {local} {remote}", f"remote get {remote} {back}",
                    f"remote delete {remote}", f"remote get {remote} {workdir / 'none'}"])
            self.assertEqual(back.read_bytes(), local.read_bytes(), kind)
            self.assertFalse(remote.exists(), kind)
            outputs[kind] = re.findall(r"^Remote I/O error.*$", out, re.M)
        self.assertEqual(outputs["gdbserver"], ["Remote I/O error: No such file or directory"])
        self.assertEqual(outputs["gostub"], outputs["gdbserver"])

class Lifecycle(unittest.TestCase):
    def test_vanished_client_with_once_kills_a_launched_program(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "spin"]) as server:
            pid = launched_pid(server)
            client = RspClient(server.port)
            client.send_raw(client.frame("vCont;c"))
            self.assertTrue(wait_for(lambda: "spinning" in server.output()))
            client.sock.close()  # gone, mid-run, without a word
            self.assertEqual(server.wait(10), 0)
            self.assertTrue(wait_for(lambda: not alive(pid)))

    def test_vanished_client_detaches_an_attached_program(self):
        binary = fixture()
        program = subprocess.Popen([str(binary), "spin"], stdout=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL)
        try:
            program.stdout.readline()
            with DebugServer("gostub", ["--attach", program.pid]) as server:
                client = RspClient(server.port)
                self.assertEqual(client.request("Z0,%x,1" % self.square_address(binary)), "OK")
                client.sock.close()
                server.wait(10)
            time.sleep(0.5)
            self.assertIsNone(program.poll(), "the program must survive its debugger")
            self.assertRegex(Path(f"/proc/{program.pid}/status").read_text(), r"TracerPid:\s+0")
        finally:
            program.kill()
            program.wait()

    @staticmethod
    def square_address(binary):
        out = subprocess.run(["gdb", "-nx", "-batch", "-ex", "info address main.square",
                              str(binary)], capture_output=True, text=True).stdout
        return int(re.search(r"0x[0-9a-f]+", out).group(0), 16)

    def test_without_once_the_next_client_finds_the_program_where_it_was(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"], once=False) as server:
            first = run_gdb(binary, server.port, ["break main.square", "continue", "disconnect"])
            self.assertIn("hit Breakpoint 1, main.square", first)
            self.assertTrue(wait_for(lambda: server.output().count("Listening on port") == 2))
            second = run_gdb(binary, server.port, ["bt 1", "monitor help", "monitor exit"])
            self.assertIn("main.square (n=7", second)
            self.assertIn("gostub monitor commands", second)
            self.assertEqual(server.wait(10), 0)


class Robustness(unittest.TestCase):
    def test_malformed_and_unknown_packets_get_answers_and_the_session_goes_on(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "basics"]) as server:
            client = RspClient(server.port)
            self.assertIn("PacketSize=", client.request("qSupported:multiprocess+;swbreak+"))
            self.assertEqual(client.request("vMustReplyEmpty"), "")
            self.assertEqual(client.request("qNoSuchPacket"), "")
            for bad in ["m", "mzz,4", "M10,2:abc", "X10,5:ab}", "Z9,0,0", "vCont;x", "Hx",
                        "p", "P10", "G00", "qXfer:features:read:nope:0,10", "c1234", "vKill;zz",
                        "qRcmd,6", "vFile:pread:7,10,0", "T-5", "Hgp1.999999"]:
                reply = client.request(bad)
                self.assertRegex(reply, r"^(E[0-9a-f]{2}|F-1,[0-9a-f]+)$", bad)
            self.assertRegex(client.request("m0,8"), r"^E[0-9a-f]{2}$")  # unmapped address
            # Bad checksums are NAKed; the next good packet still works.
            client.send_raw(b"$g#00")
            self.assertEqual(client.sock.recv(1), b"-")
            self.assertEqual(len(client.request("g")), harness.register_file_bytes() * 2)
            client.send_raw(b"$" + b"A" * 2_000_000 + b"#00")  # far beyond PacketSize
            self.assertEqual(client.request("qC")[:2], "QC")
            self.assertEqual(client.no_ack(), "OK")
            self.assertRegex(client.request("?"), r"^T05(?:[0-9a-f]+:[0-9a-f]+;)*thread:p[0-9a-f]+\.[0-9a-f]+;")
            client.request("vKill;%x" % launched_pid(server))
            client.close()
            self.assertEqual(server.wait(10), 0)

    def test_packets_while_running_are_refused_and_interrupt_works(self):
        binary = fixture()
        with DebugServer("gostub", [binary, "spin"]) as server:
            client = RspClient(server.port)
            client.request("qSupported:multiprocess+")
            client.no_ack()
            client.send_raw(client.frame("vCont;c"))
            time.sleep(0.3)
            client.send_raw(client.frame("g"))
            self.assertEqual(client.read_packet(), "E10")  # EBUSY: the program is running
            client.send_raw(b"\x03")
            self.assertRegex(client.read_packet(), r"^T02")  # SIGINT
            self.assertEqual(len(client.request("g")), harness.register_file_bytes() * 2)
            client.close()
            server.wait(10)


class SignalsOfOtherPrograms(unittest.TestCase):
    """SIGURG is Go's preemption signal, always passed in a Go program; in any other program it
    is the client's to stop at, as with gdbserver (gdb's own sigall.exp asks for it)."""

    def test_a_c_program_stops_for_sigurg_when_gdb_says_stop(self):
        with tempfile.TemporaryDirectory() as scratch:
            source = Path(scratch) / "urg.c"
            source.write_text("#include <signal.h>\n#include <stdio.h>\n"
                              "static void on_urg(int sig) { printf(\"handled %d\\n\", sig); }\n"
                              "int main(void) { signal(SIGURG, on_urg); raise(SIGURG);"
                              " return 3; }\n")
            program = Path(scratch) / "urg"
            subprocess.run(["cc", "-g", "-o", str(program), str(source)], check=True)
            outputs = {}
            for kind in ("gostub", "gdbserver"):
                with DebugServer(kind, [program]) as server:
                    out = run_gdb(program, server.port,
                                  ["handle SIGURG stop print", "continue", "continue"])
                    server.wait()
                outputs[kind] = [line for line in harness.normalise(out)
                                 if "received signal" in line or "exited" in line]
            self.assertEqual(outputs["gostub"][0],
                             "Program received signal SIGURG, Urgent I/O condition.")
            self.assertEqual(outputs["gostub"], outputs["gdbserver"])


if __name__ == "__main__":
    unittest.main()
