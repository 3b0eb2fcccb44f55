"""The container recipe of docs/CONTAINERS.md, with namespaces made by unshare(1) instead of a
container runtime: a Go program runs as process 1 of a new PID and mount namespace, from a file
that only that mount namespace has, and gdb debugs it through gostub over a pipe, gostub being
entered into the namespaces by nsenter(1) as `kubectl exec -i` or `docker exec -i` would.

- In the program's PID and mount namespaces (gostub in the program's own container):
      target remote | nsenter -t PID -p -m -- gostub - --attach 1
- In its PID namespace only, with a mount namespace and /proc of its own (a Kubernetes
  ephemeral debug container, `kubectl debug --target`): the program's file is not there, and
  gostub reads it through /proc/1/exe.
      target remote | nsenter -t PID -p -- unshare --mount --mount-proc gostub - --attach 1
- gostub launching the program as process 1 of a new namespace:
      target remote | unshare --pid --mount --fork --mount-proc gostub - PROG

Needs root (unshare, nsenter); skipped otherwise."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import GOSTUB, fixture, run_gdb  # noqa: E402

SESSION = ["break main.square", "continue", "bt 1", "monitor goroutines", "info threads"]


def namespaces_available():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        return False
    probe = subprocess.run(["unshare", "--pid", "--mount", "--fork", "--mount-proc", "true"],
                           capture_output=True, timeout=20)
    return probe.returncode == 0


@unittest.skipUnless(namespaces_available(), "needs root and unshare/nsenter")
class Namespaces(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = fixture()

    def start_contained(self):
        """The fixture as process 1 of a new PID and mount namespace, run from a tmpfs mounted
        in that namespace only. Returns its pid as seen from here."""
        directory = tempfile.mkdtemp(prefix="gostub-ns-")
        self.addCleanup(os.rmdir, directory)
        script = (f"mount -t tmpfs tmpfs {directory} && cp {self.binary} {directory}/app && "
                  f"exec {directory}/app spin")
        # --kill-child: the namespace dies with unshare.
        unshare = subprocess.Popen(
            ["unshare", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc",
             "sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def stop():
            unshare.send_signal(signal.SIGKILL)
            unshare.wait()
            unshare.stdout.close()
        self.addCleanup(stop)
        self.assertEqual(unshare.stdout.readline().strip(), "spinning")
        children = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children").read_text().split()
        self.assertEqual(len(children), 1)
        pid = int(children[0])
        status = Path(f"/proc/{pid}/status").read_text()
        self.assertIn(f"NSpid:\t{pid}\t1\n", status, "the program is process 1 of its namespace")
        self.assertFalse(Path(directory, "app").exists(), "the program's file is not here")
        return pid

    def check_session(self, out, pid_inside="1"):
        self.assertIn("Remote debugging using stdio", out)
        self.assertIn("Breakpoint 1, main.square", out)
        self.assertRegex(out, r"\* Goroutine 1 \[running\] main\.square at \S+main\.go:\d+ "
                              rf"\(0x[0-9a-f]+\) thread {pid_inside}\n")
        self.assertRegex(out, r"\[\d+ goroutines\]")
        self.assertIn('"goroutine 1 runtime.main"', out)  # threads named after their goroutines
        self.assertNotIn("No such file", out)

    def test_gostub_in_the_programs_pid_and_mount_namespaces(self):
        pid = self.start_contained()
        out = run_gdb(self.binary, None, SESSION + ["detach"], connect=(
            f"target remote | nsenter -t {pid} -p -m -- {GOSTUB} - --attach 1 #"))
        self.check_session(out)
        self.assertIn("[Inferior 1 (process 1) detached]", out)
        self.assertTrue(Path(f"/proc/{pid}").exists(), "detached, the program runs on")

    def test_gostub_in_a_debug_container_sharing_only_the_pid_namespace(self):
        pid = self.start_contained()
        out = run_gdb(self.binary, None, SESSION + ["monitor info", "detach"], connect=(
            f"target remote | nsenter -t {pid} -p -- "
            f"unshare --mount --mount-proc {GOSTUB} - --attach 1 #"))
        self.check_session(out)
        self.assertIn("/proc/1/exe: go1.", out)  # the binary, read where gostub finds it
        self.assertRegex(out, r"goroutines\t\d+, from runtime\.allgs")
        self.assertIn("[Inferior 1 (process 1) detached]", out)

    def test_a_broken_pipe_detaches_and_the_program_runs_on(self):
        """kubectl exec's connection drops while the program runs with a breakpoint in it:
        gostub must take its breakpoints out and detach, or the program dies of SIGTRAP."""
        pid = self.start_contained()
        functions = subprocess.run([str(GOSTUB), "functions", str(self.binary)],
                                   capture_output=True, text=True, check=True).stdout
        square = next(line.split()[0] for line in functions.splitlines()
                      if line.endswith(" main.square"))
        gostub = subprocess.Popen(["nsenter", "-t", str(pid), "-p", "-m", "--", str(GOSTUB), "-",
                                   "--attach", "1"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: gostub.poll() is None and gostub.kill())

        def request(payload):
            data = payload.encode()
            gostub.stdin.write(b"$" + data + b"#" + f"{sum(data) % 256:02x}".encode())
            gostub.stdin.flush()
            reply = b""
            while not (b"#" in reply and len(reply) >= reply.index(b"#") + 3):
                reply += gostub.stdout.read1(4096).lstrip(b"+")
            return reply.decode()

        self.assertIn("OK", request("QStartNoAckMode"))
        self.assertIn("OK", request(f"Z0,{square[2:]},1"))
        # As gdb does by default: SIGURG (gdb's 16), Go's preemption signal, passed unseen.
        self.assertIn("OK", request("QPassSignals:10"))
        self.assertIn("$T05", request("vCont;c"))  # the breakpoint, in main.square
        data = b"vCont;c"
        gostub.stdin.write(b"$" + data + b"#" + f"{sum(data) % 256:02x}".encode())
        gostub.stdin.close()  # the pipe breaks while the program runs
        self.assertEqual(gostub.wait(timeout=20), 0)
        time.sleep(1)  # main.square runs in a loop: an int3 left behind would have killed it
        status = Path(f"/proc/{pid}/status").read_text()
        self.assertIn("TracerPid:\t0\n", status)
        self.assertRegex(status, r"State:\t[RS] ")

    def test_gostub_launching_in_a_new_namespace(self):
        out = run_gdb(self.binary, None, SESSION + ["kill"], connect=(
            f"target remote | unshare --pid --mount --fork --kill-child --mount-proc "
            f"{GOSTUB} - {self.binary} spin #"))
        self.assertIn("Remote debugging using stdio", out)
        self.assertIn("Breakpoint 1, main.square", out)
        self.assertRegex(out, r"\* Goroutine 1 \[running\] main\.square .* thread 2\n")
        self.assertIn("[Inferior 1 (process 2) killed]", out)


if __name__ == "__main__":
    unittest.main()
