// `gostub --selftest`, as gdbserver's: checks gostub can run on this machine without a client —
// its protocol code round-trips, the CPU's register file is what gostub describes, and a
// program can be started, traced, stopped and killed here (ptrace allowed, no seccomp in the
// way). Prints gdb's "Ran N unit tests, M failed" and returns the exit status.
#pragma once

namespace gostub::server {

int run_selftests();

}  // namespace gostub::server
