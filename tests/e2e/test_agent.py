"""Hits nobody needs to see (issue 14): false-condition breakpoints and gdb's agent dprintf are
passed inside gostub by displaced stepping, without stopping the program's other threads. The
oracles: the program's own printed values, gdb's host-side dprintf for the same line, and
gostub's `monitor hits` counters (how many hits were passed in place, how many stopped all)."""

import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DebugServer, fixture, line_of, run_gdb  # noqa: E402

HANDLE = line_of("handle", "agentfixture")
DONE = line_of("done", "agentfixture")


def gdb_session(args, commands, go="1.19", flavour="debug", kind="gostub"):
    binary = fixture("agentfixture", go=go, flavour=flavour)
    with DebugServer(kind, [binary, *args]) as server:
        out = run_gdb(binary, server.port, commands)
        server.wait()
        return out, server.output()


# gostub advertises BreakpointCommands+: gdb sends the dprintf's printf bytecode with the Z0.
AGENT_STYLE = ["set dprintf-style agent"]


def counters(out):
    found = dict(re.findall(r"(?m)^(passed in place|passed stopping all threads|"
                            r"dprintf lines dropped): (\d+)$", out))
    return {key: int(value) for key, value in found.items()}


class FalseConditions(unittest.TestCase):
    maxDiff = None

    def test_false_condition_never_stops_the_other_threads(self):
        for go, flavour in [("1.19", "debug"), ("1.19", "default"), ("1.22", "debug")]:
            with self.subTest(go=go, flavour=flavour):
                out, server_output = gdb_session(["handle", "300"], [
                    f"break main.go:{HANDLE} if req.ID == 100000",
                    f"break main.go:{DONE}",
                    "continue", "monitor hits", "continue"], go=go, flavour=flavour)
                self.assertEqual(counters(out), {"passed in place": 300,
                                                 "passed stopping all threads": 0,
                                                 "dprintf lines dropped": 0}, out)
                self.assertIn("handled 300 calls, total 313950, background advanced: true",
                              server_output)
                self.assertIn("exited normally", out)

    def test_a_true_condition_still_stops(self):
        out, server_output = gdb_session(["handle", "50"], [
            f"break main.go:{HANDLE} if req.ID == 7 || req.ID == 42",
            f"break main.go:{DONE}",
            "continue", "p req.ID", "p req.Value", "continue", "p req.ID",
            "continue", "monitor hits", "continue"])
        self.assertEqual(re.findall(r"\$\d+ = (\d+)", out), ["7", "21", "42"])
        # 48 false hits were passed in place; the two true ones were reported (and gdb stepped
        # over them itself).
        self.assertEqual(counters(out)["passed in place"], 48, out)
        self.assertEqual(counters(out)["passed stopping all threads"], 0, out)
        self.assertIn("handled 50 calls", server_output)

    def test_the_client_stepping_is_never_overridden(self):
        # A step the client asked for ends where it asked, even over a false-condition hit.
        out, _ = gdb_session(["handle", "5"], [
            "break main.handleMode", f"break main.go:{HANDLE} if req.ID == 100000",
            "continue", "next", "next", "next", "next", "next", "next", "info line *$pc",
            "continue"])
        self.assertIn("exited normally", out)
        self.assertNotIn("Remote connection closed", out)


class AgentDprintf(unittest.TestCase):
    maxDiff = None

    def dprintf(self, style, count, extra=()):
        return gdb_session(["handle", str(count)], [
            *(AGENT_STYLE if style == "agent" else ["set dprintf-style gdb"]),
            f'dprintf main.go:{HANDLE},"id=%d value=%d\\n", req.ID, req.Value',
            *extra, "continue"])

    def lines(self, out):
        return re.findall(r"(?m)^id=\d+ value=-?\d+$", out)

    def test_agent_output_equals_gdbs_own(self):
        agent, server_output = self.dprintf("agent", 20)
        host, _ = self.dprintf("gdb", 20)
        expected = [f"id={i} value={3 * i}" for i in range(20)]
        self.assertEqual(self.lines(host), expected, host)
        self.assertEqual(self.lines(agent), expected, agent)
        self.assertIn("handled 20 calls, total 1330", server_output)
        self.assertIn("exited normally", agent)

    def test_agent_dprintf_passes_in_place(self):
        out, _ = gdb_session(["handle", "30"], [
            *AGENT_STYLE,
            f'dprintf main.go:{HANDLE},"id=%d\\n", req.ID',
            f"break main.go:{DONE}", "continue", "monitor hits", "continue"])
        self.assertEqual(re.findall(r"(?m)^id=(\d+)$", out), [str(i) for i in range(30)])
        self.assertEqual(counters(out)["passed in place"], 30, out)
        self.assertEqual(counters(out)["passed stopping all threads"], 0, out)

    def test_a_hot_line_is_rate_limited_and_says_so(self):
        count = 2000
        out, server_output = gdb_session(["handle", str(count)], [
            *AGENT_STYLE,
            f'dprintf main.go:{HANDLE},"id=%d\\n", req.ID',
            f"break main.go:{DONE}", "continue", "monitor hits", "continue"])
        printed = re.findall(r"(?m)^id=(\d+)$", out)
        dropped = counters(out)["dprintf lines dropped"]
        self.assertGreater(dropped, 0, out)
        self.assertEqual(len(printed) + dropped, count, out)
        self.assertEqual(printed[:100], [str(i) for i in range(100)])  # the burst, in order
        self.assertRegex(out, r"gostub: \d+ dprintf line\(s\) dropped \(limit 100 a second\)")
        self.assertIn(f"handled {count} calls", server_output)


if __name__ == "__main__":
    unittest.main()
