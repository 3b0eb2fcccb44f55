"""gdb's non-stop mode (issue 14): threads stopped and resumed one at a time while the others
run, driven from gdb's CLI and from gdb/MI on nonstopfixture (two goroutines advancing a package
counter). gdb is driven interactively (pexpect): a %Stop notification is read by gdb's event loop,
which a batch script never runs between its commands. Where gdbserver is the oracle, the same
session runs against it and what each server let gdb see is compared as a list of facts (which
OS thread runs a worker, and when, is the scheduler's choice)."""

import re
import sys
import time
import unittest
from pathlib import Path

import pexpect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DebugServer, alive, available_toolchains, fixture, wait_for  # noqa: E402

PROMPT = r"\(gdb\) "


class Gdb:
    """An interactive gdb (CLI or MI) over a pty."""

    def __init__(self, binary, mi=False):
        args = ["-nx", "-q", "-iex", "set style enabled off"] + (["-i=mi"] if mi else []) + [
            str(binary)]
        self.mi = mi
        self.child = pexpect.spawn("gdb", args, encoding="utf-8", timeout=30,
                                   dimensions=(200, 400), env={"TERM": "dumb", "PATH": "/usr/bin:/bin"})
        self.transcript = ""
        self.expect(PROMPT)
        if not mi:
            for setting in ["set pagination off", "set confirm off", "set width 0"]:
                self.run(setting)

    def expect(self, pattern, timeout=30):
        self.child.expect(pattern, timeout=timeout)
        self.transcript += self.child.before + (self.child.after or "")
        return self.child.before

    def run(self, line, timeout=30):
        """Sends a command and returns what gdb printed up to its next prompt."""
        self.child.sendline(line)
        return self.expect(PROMPT, timeout)

    def wait_for(self, pattern, timeout=20):
        """Output matching `pattern`, printed asynchronously (a stop)."""
        self.child.expect(pattern, timeout=timeout)
        self.transcript += self.child.before + self.child.after
        return self.child.match

    def close(self):
        if self.child.isalive():
            self.child.sendline("-gdb-exit" if self.mi else "quit")
            try:
                self.child.expect(pexpect.EOF, timeout=10)
            except pexpect.TIMEOUT:
                pass
        self.child.close(force=True)


def worker_thread(gdb, numbers):
    """Interrupts the threads one by one until one is in main.worker; the others run on.
    Returns its number, with it stopped."""
    for number in numbers:
        gdb.run(f"thread {number}")
        gdb.run("interrupt")
        gdb.wait_for(rf"Thread {number} .* stopped\.")
        if "main.worker" in gdb.run("bt"):
            return number
        gdb.run("continue &")
    raise AssertionError("no thread runs main.worker:\n" + gdb.transcript)


def cpu_ticks(pid):
    """The process's user + system time so far, in clock ticks (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def runs_untraced(pid):
    """Whether `pid` lives, no thread of it is held stopped (t/T) and it burns CPU: the
    fixture's workers spin, so a detached, unstuck program accumulates time."""
    if not alive(pid):
        return False
    before = cpu_ticks(pid)
    grew = wait_for(lambda: alive(pid) and cpu_ticks(pid) > before + 5, timeout=5)
    try:
        states = [Path(task, "stat").read_text().rsplit(") ", 1)[1][0]
                  for task in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:  # it ended meanwhile
        return False
    return grew and bool(states) and not any(state in "tT" for state in states)


def counter(gdb):
    return int(re.search(r"\$\d+ = (\d+)", gdb.run("print main.counter")).group(1))


def cli_session(kind, connect="target remote"):
    """The issue's session: continue -a &, interrupt one thread, look at its goroutine while
    the counter keeps growing, resume it, interrupt -a, detach. Returns the facts seen."""
    binary = fixture("nonstopfixture")
    facts = {}
    with DebugServer(kind, [binary, "30"]) as server:
        gdb = Gdb(binary)
        try:
            gdb.run("set non-stop on")
            out = gdb.run(f"{connect} 127.0.0.1:{server.port}")
            facts["connected stopped"] = "_rt0_amd64" in out
            gdb.run("continue -a &")
            time.sleep(1)  # the runtime starts its threads, the workers spin
            threads = gdb.run("info threads")
            numbers = [int(n) for n in re.findall(r"^\*?\s+(\d+)\s+Thread", threads, re.M)]
            facts["all running"] = (len(numbers) >= 3 and
                                    threads.count("(running)") == len(numbers))
            chosen = worker_thread(gdb, numbers)
            threads = gdb.run("info threads")
            facts["only it stopped"] = threads.count("(running)") == len(numbers) - 1
            # Without main.step: whether the worker was inside it when stopped is timing.
            facts["bt"] = [frame for frame in re.findall(
                r"^#\d+\s+(?:0x\w+ in )?(main\.\w+|runtime\.goexit) ", gdb.run("bt"), re.M)
                if frame != "main.step"]
            gdb.run("frame function main.worker")
            facts["locals"] = re.findall(r"^(\w+) = ", gdb.run("info locals"), re.M)
            before = counter(gdb)
            time.sleep(0.5)
            facts["counter grows while it is stopped"] = counter(gdb) > before
            facts["registers of a running thread"] = "Selected thread is running" in (
                gdb.run(f"thread {next(n for n in numbers if n != chosen)}") +
                gdb.run("info registers rip"))
            gdb.run(f"thread {chosen}")
            gdb.run("continue &")
            time.sleep(0.3)
            facts["all running again"] = gdb.run("info threads").count("(running)") == len(
                numbers)
            gdb.run("interrupt -a")
            wait_for(lambda: "(running)" not in gdb.run("info threads"), timeout=10)
            facts["interrupt -a stops all"] = "(running)" not in gdb.run("info threads")
            # Ctrl-C on a foreground `continue -a` (gdb sends vCtrlC in non-stop): the thread
            # that takes the SIGINT stops, the others run on.
            gdb.child.sendline("continue -a")
            gdb.expect("Continuing.")
            time.sleep(0.3)
            gdb.child.sendintr()
            gdb.wait_for(r"received signal SIGINT")
            gdb.expect(PROMPT)
            threads = gdb.run("info threads")
            facts["ctrl-c stops one thread, the others run"] = threads.count("(running)") == len(
                numbers) - 1
            gdb.run("interrupt -a")
            wait_for(lambda: "(running)" not in gdb.run("info threads"), timeout=10)
            out = gdb.run("detach")
            facts["detached"] = "detached" in out
            pid = int(re.search(r"process (\d+)", out).group(1))
            # Not left stuck: the program runs on, untraced, and ends at its time.
            # Which thread is running at a given moment is the scheduler's choice (the
            # leader may sleep in a futex): look at the whole process instead.
            facts["runs on after detach"] = runs_untraced(pid)
        finally:
            gdb.close()
    return facts, gdb.transcript


class NonStopCli(unittest.TestCase):
    maxDiff = None

    def test_issue_session_against_gdbserver(self):
        ours, transcript = cli_session("gostub")
        self.assertTrue(ours["counter grows while it is stopped"], transcript)
        self.assertIn("main.worker", ours["bt"], transcript)
        self.assertEqual(ours["locals"], ["local"], transcript)
        reference, _ = cli_session("gdbserver")
        self.assertEqual(reference, ours, transcript)

    def test_extended_remote(self):
        facts, transcript = cli_session("gostub", connect="target extended-remote")
        self.assertTrue(all(value for value in facts.values()), f"{facts}\n{transcript}")
        self.assertEqual(facts["locals"], ["local"])


def mi_records(text, kind):
    return [line for line in text.splitlines() if line.startswith(kind)]


def mi_shape(record):
    """An MI record with what differs between runs and servers taken out: thread ids, frames,
    addresses and values."""
    # The whole frame (its args nest braces, and which function the thread was in varies).
    record = re.sub(r'frame=\{.*\}(?=,thread-id=)', "frame={F}", record)
    record = re.sub(r'frame=\{.*?\}(,|$)', r"frame={F}\1", record)
    record = re.sub(r'"\d+"', '"N"', record)
    record = re.sub(r"\[[^\]]*\]", "[...]", record)
    return record


def mi_session(kind):
    binary = fixture("nonstopfixture")
    with DebugServer(kind, [binary, "30"]) as server:
        gdb = Gdb(binary, mi=True)
        facts = {}
        try:
            # Background execution in MI (without it -exec-continue waits for a stop).
            facts["mi-async"] = "^done" in gdb.run("-gdb-set mi-async on")
            facts["non-stop"] = "^done" in gdb.run("-gdb-set non-stop on")
            gdb.run(f"-target-select remote 127.0.0.1:{server.port}")
            out = gdb.run("-exec-continue --all")
            facts["continue all"] = mi_records(out, "^")
            time.sleep(1)
            out += gdb.run("-thread-info")
            # How many threads the Go runtime has started by now is its own affair.
            facts["running"] = len(set(mi_records(out, "*running"))) >= 3
            listed = gdb.run("-thread-info")
            ids = re.findall(r'\{id="(\d+)",target-id', listed)
            chosen = None
            for thread in ids:
                out = gdb.run(f"-exec-interrupt --thread {thread}")
                facts.setdefault("interrupt", mi_records(out, "^"))
                stopped = gdb.wait_for(r'\*stopped,[^\r\n]*thread-id="%s"[^\r\n]*' % thread)
                facts.setdefault("stopped", mi_shape(stopped.group(0)))
                frames = gdb.run(f"-stack-list-frames --thread {thread}")
                if "main.worker" in frames:
                    chosen = thread
                    # The outermost Go frame (the worker may be inside main.step).
                    facts["frames"] = re.findall(r'func="(main\.\w+)"', frames)[-1:]
                    break
                gdb.run(f"-exec-continue --thread {thread}")
            facts["found a worker"] = chosen is not None
            values = []
            for _ in range(2):
                out = gdb.run(f"-data-evaluate-expression --thread {chosen} main.counter")
                values.append(int(re.search(r'value="(\d+)"', out).group(1)))
                time.sleep(0.5)
            facts["counter grows"] = values[1] > values[0]
            facts["continue one"] = mi_records(
                gdb.run(f"-exec-continue --thread {chosen}"), "^")
            facts["interrupt all"] = mi_records(gdb.run("-exec-interrupt --all"), "^")
            stops = 0
            deadline = time.time() + 10
            while stops < len(ids) and time.time() < deadline:
                gdb.wait_for(r"\*stopped,")
                stops += 1
            facts["every thread stopped"] = stops == len(ids)
            facts["detach"] = mi_records(gdb.run("-target-detach"), "^")
        finally:
            gdb.close()
    return facts, gdb.transcript


class StopTheWorld(unittest.TestCase):
    """A worker held stopped while Go's garbage collector stops the world: every goroutine
    waits for it. gostub says so in gdb's console (unasked, once) and to `monitor world`;
    gdbserver says nothing, so gostub's own words are checked, and the program's own
    collection counter is the oracle that the world is held, then released."""

    def test_message_names_the_held_thread(self):
        # sched.gcwaiting is a bool up to Go 1.19 and an atomic.Bool from 1.20.
        for go in [v for v in ("1.19", "1.23") if v in available_toolchains()]:
            with self.subTest(go=go):
                self.held_and_released(fixture("nonstopfixture", go=go))

    def held_and_released(self, binary):
        # More Ps than busy goroutines: with every P busy, the collector's timer or its place
        # in a run queue can sit on the stopped thread's P, and no collection starts at all.
        with DebugServer("gostub", [binary, "gc", "60"], env={"GOMAXPROCS": "4"}) as server:
            gdb = Gdb(binary)
            try:
                gdb.run("set non-stop on")
                gdb.run(f"target remote 127.0.0.1:{server.port}")
                gdb.run("continue -a &")
                numbers = []

                def threads_seen():
                    numbers[:] = [int(n) for n in re.findall(
                        r"^\*?\s+(\d+)\s+Thread", gdb.run("info threads"), re.M)]
                    return len(numbers) >= 4  # main's, two workers', the collector's at least

                wait_for(threads_seen, timeout=10)
                # A worker may be parked for a collection when interrupted: look again.
                for attempt in range(3):
                    try:
                        chosen = worker_thread(gdb, numbers)
                        break
                    except AssertionError:
                        if attempt == 2:
                            raise
                lwp = re.search(rf"^\*?\s+{chosen}\s+Thread \d+\.(\d+)",
                                gdb.run("info threads"), re.M).group(1)
                # Told once, asynchronously: maybe already, amid the commands above.
                told = (rf"gostub: Go's garbage collector stops the world and waits for "
                        rf"[^\r\n]*LWP {lwp} \(goroutine \d+\)[^\r\n]*, stopped by the debugger")
                if not re.search(told, gdb.transcript):
                    try:
                        gdb.wait_for(told, timeout=15)
                    except pexpect.TIMEOUT:
                        self.fail(f"not told of LWP {lwp}:\n{gdb.transcript}\n"
                                  f"gostub's output:\n{server.output()}")
                collections = int(re.search(r"= (\d+)", gdb.run("print main.collections"))[1])
                time.sleep(1)
                self.assertEqual(collections, int(re.search(
                    r"= (\d+)", gdb.run("print main.collections"))[1]), gdb.transcript)
                self.assertIn(f"waits for LWP {lwp} (goroutine ", gdb.run("monitor world"),
                              gdb.transcript)
                gdb.run("continue &")
                self.assertTrue(wait_for(lambda: int(re.search(
                    r"= (\d+)", gdb.run("print main.collections"))[1]) > collections + 5,
                    timeout=10), gdb.transcript)
                self.assertNotIn(f"LWP {lwp}", gdb.run("monitor world"), gdb.transcript)
                gdb.run("interrupt -a")
                wait_for(lambda: "(running)" not in gdb.run("info threads"), timeout=10)
                self.assertIn("detached", gdb.run("detach"), gdb.transcript)
            finally:
                gdb.close()


class NonStopMi(unittest.TestCase):
    maxDiff = None

    def test_mi_against_gdbserver(self):
        ours, transcript = mi_session("gostub")
        self.assertTrue(ours["counter grows"], transcript)
        self.assertEqual(ours["frames"][-1:], ["main.worker"], transcript)
        self.assertEqual(ours["continue all"], ["^running"], transcript)
        self.assertEqual(ours["interrupt"], ["^done"], transcript)
        reference, _ = mi_session("gdbserver")
        self.assertEqual(reference, ours, transcript)


if __name__ == "__main__":
    unittest.main()
