// The debugged program, as the session sees it (golang.org/x/debug's Program idea): one object
// per inferior, owned by the server's Programs and outliving any client. Its interface speaks
// debugger and Go — threads (OS threads and goroutines shown as threads), registers, memory,
// breakpoints, resume/stop/kill — never RSP. TracedProgram implements it over target::Process;
// the session's unit tests use a test double.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/agent_expression.hpp"
#include "server/client_thread.hpp"
#include "server/go_registers.hpp"
#include "server/reply.hpp"
#include "server/trace.hpp"
#include "target/process.hpp"

namespace gostub::server {

class GoState;

// A stop to tell the client about, and what gostub has to say about it (a panic's message).
struct StopReport {
  target::StopEvent stop;
  std::string console;
};

// Which signals the client wants passed without a report, and which the program may receive
// (nullopt: all). Linux numbers. And the system calls it catches (QCatchSyscalls; an empty
// set: every one; nullopt: none).
struct SignalSettings {
  std::set<int> pass;
  std::optional<std::set<int>> program;
  std::optional<std::set<long>> syscalls;
};

// Hits nobody needed to see (false conditions, agent dprintf), and how they were passed: in
// place, the other threads running on (displaced stepping), or by stopping every thread.
struct HitCounters {
  std::uint64_t passed_in_place = 0;
  std::uint64_t passed_stopping_all = 0;
  std::uint64_t output_dropped = 0;  // dprintf lines past the rate limit
};

// What the client attached to a breakpoint (Z0): conditions (report a hit only when one is
// true) and commands (gdb's agent dprintf: run at each hit whose conditions allow it, and then
// the hit is never reported).
struct BreakpointAgent {
  std::vector<protocol::AgentExpression> conditions;
  std::vector<protocol::AgentExpression> commands;
};

template <typename T>
using Outcome = std::expected<T, Failure>;

// Go's stop-the-world (runtime.stopTheWorldWithSema) sets sched.gcwaiting and waits until
// every P has stopped; between its two stop-the-worlds the collector waits in forEachP
// (sched.safePointWait) until every P has passed a safe point. A thread the debugger keeps
// stopped while it runs a goroutine holds its P, and every other goroutine waits for it.
struct StopTheWorld {
  bool waiting = false;
  std::vector<std::string> held_by;  // "LWP 123 (goroutine 7)": stopped threads running Go code
};
// What the client is told (console text): what waits, for whom, and what to do.
std::string describe(const StopTheWorld& world);

class Program {
 public:
  virtual ~Program() = default;

  virtual pid_t pid() const = 0;
  virtual bool alive() const = 0;
  virtual bool attached() const = 0;  // attached to, rather than launched by gostub
  virtual bool running() const = 0;
  virtual const std::string& executable() const = 0;

  // The last stop reported (or the launch/attach stop); the exit, once it has ended.
  virtual const std::optional<target::StopEvent>& last_stop() const = 0;
  // Whether the program has been resumed since it started (lldb's first stop differs).
  virtual bool resumed_yet() const = 0;
  // What the other threads stopped for at the last stop, handed over at once (lldb asks every
  // thread for its own stop reason); empty for gdb, which takes them one resume at a time.
  virtual void collect_other_stops() = 0;
  virtual const std::map<pid_t, target::StopEvent>& other_stops() const = 0;

  // Threads as the client sees them: the OS threads, then (with goroutine threads on) one per
  // goroutine that no thread runs.
  virtual std::vector<ClientThread> threads() = 0;
  virtual bool has_thread(ClientThread thread) = 0;
  // "goroutine 17 main.worker" when gostub can tell, else the kernel's name.
  virtual std::string thread_name(ClientThread thread) = 0;
  virtual int thread_core(ClientThread thread) = 0;  // -1 when unknown
  virtual target::Result<std::string> registers(ClientThread thread) = 0;
  // Only the general registers (one system call): enough for a stop's pc, sp and fp.
  virtual target::Result<std::string> general_registers(ClientThread thread) = 0;
  virtual target::Result<std::uint64_t> pc(ClientThread thread) = 0;
  // The goroutine `thread` runs, or is (a goroutine thread): $goid and $g. Zeros when it runs
  // none, or the program is not Go.
  virtual GoIdentity goroutine_identity(ClientThread thread) = 0;
  virtual Outcome<void> write_registers(ClientThread thread, std::string_view file) = 0;
  // Why `thread` cannot be resumed on its own, if it cannot (a parked goroutine).
  virtual std::optional<Failure> refuse_resume(ClientThread thread) = 0;

  virtual target::Result<std::size_t> read_memory(std::uint64_t address,
                                                  std::span<char> out) const = 0;
  virtual target::Result<void> write_memory(std::uint64_t address, std::string_view bytes) = 0;
  virtual target::Result<std::vector<target::MemoryRegion>> memory_regions() const = 0;
  // Memory mapped in the program for the client (lldb's _M/_m; Delve writes code there).
  virtual target::Result<std::uint64_t> allocate_memory(std::uint64_t size, bool readable,
                                                        bool writable, bool executable) = 0;
  virtual target::Result<void> deallocate_memory(std::uint64_t address) = 0;
  virtual target::Result<std::string> auxv() const = 0;
  virtual target::Result<target::ProcessFacts> facts() const = 0;

  // A client breakpoint; with conditions, a hit where all are false is never reported; with
  // commands, none is.
  virtual target::Result<void> insert_breakpoint(std::uint64_t address, BreakpointAgent agent) = 0;
  virtual target::Result<void> remove_breakpoint(std::uint64_t address) = 0;
  // Hardware breakpoints (kExecute) and watchpoints, in the debug registers (ENOSPC when they
  // are used up). A watch on a goroutine's stack is followed: see StackWatches.
  virtual target::Result<void> insert_hardware_point(target::HardwareKind kind,
                                                     std::uint64_t address,
                                                     std::uint64_t length) = 0;
  virtual target::Result<void> remove_hardware_point(target::HardwareKind kind,
                                                     std::uint64_t address,
                                                     std::uint64_t length) = 0;
  // The signal information of a thread stopped by a signal (siginfo_t, raw bytes), and a
  // change to it that the signal carries when it is delivered.
  virtual target::Result<std::string> siginfo(ClientThread thread) = 0;
  virtual target::Result<void> write_siginfo(ClientThread thread, std::string_view bytes) = 0;

  virtual void set_signals(const SignalSettings& signals) = 0;
  // Resumes as planned (threads not named stay stopped). A pending stop that needs no run is
  // returned at once.
  virtual target::Result<std::optional<StopReport>> resume(
      std::span<const target::ThreadAction> plan) = 0;
  // The kernel said something happened: the stop to report, if any (hits nobody needs to see
  // are resumed past here).
  virtual std::optional<StopReport> handle_wait_events() = 0;
  // Wait statuses of this program that another's wait reaped (no SIGCHLD will say so): the
  // server lets it handle them.
  virtual bool has_stashed_events() const { return false; }
  // Stops every running thread (Ctrl-C); nullopt when nothing ran.
  virtual std::optional<StopReport> interrupt() = 0;
  virtual target::StopEvent kill() = 0;
  virtual target::Result<void> detach() = 0;

  // Non-stop mode (QNonStop:1): a thread that stops stops alone, each stop is reported on its
  // own (handle_wait_events() until nullopt), resume() leaves running threads running.
  virtual void set_non_stop(bool /*on*/) {}
  virtual bool non_stop() const { return false; }
  // Whether this thread runs now (in non-stop some run while others are stopped).
  virtual bool thread_running(ClientThread /*thread*/) const { return running(); }
  // Non-stop: asks these running OS threads to stop; each is reported later as its own stop.
  virtual void request_stop(std::span<const pid_t> /*tids*/) {}
  // Ctrl-C in non-stop (vCtrlC): SIGINT to the process, reported by the thread that takes it.
  virtual target::Result<void> signal_interrupt() {
    return target::fail(ENOSYS, "not a traced process");
  }
  // Go's stop-the-world as runtime.sched says it now; nullopt when that cannot be read (not Go,
  // no DWARF, the process ended).
  virtual std::optional<StopTheWorld> stop_the_world() { return std::nullopt; }

  // Thread creation and exit reported as stops (QThreadEvents).
  virtual void set_thread_events(bool /*on*/) {}
  // Forks and vforks: reported (and the child held for the client) or let go at once.
  virtual void set_fork_events(bool /*fork*/, bool /*vfork*/) {}
  // A fork child held after a fork stop, named by its pid (gdb's Hg pCHILD.0, z0, D;CHILD).
  virtual bool holds_fork_child(pid_t /*child*/) const { return false; }
  virtual target::Result<void> remove_fork_child_breakpoint(pid_t child, std::uint64_t address);
  virtual target::Result<void> detach_fork_child(pid_t child);
  virtual void kill_fork_child(pid_t /*child*/) {}
  // A held child as a program of its own, from its fork stop on (the client keeps it or
  // follows it). nullptr when `child` is not held.
  virtual std::unique_ptr<Program> take_fork_child(pid_t /*child*/) { return nullptr; }

  // Tracepoints: the program's definitions, frames and run, which outlive the client.
  virtual Trace& trace() = 0;
  // Starts the run (QTStart) with a breakpoint at each enabled tracepoint; a hit collects its
  // frame and passes in place, no other thread stopping. Called again while tracing (a
  // tracepoint defined, enabled or disabled), it puts in and takes out what changed.
  virtual target::Result<void> start_tracing() = 0;
  virtual target::Result<void> update_tracing() = 0;
  // Ends the run (QTStop, or the client left without disconnected tracing): the frames stay.
  virtual void stop_tracing(Trace::StopReason reason) = 0;

  virtual HitCounters hit_counters() const { return {}; }
  // Console text breakpoint commands wrote since the last call (agent dprintf), to send to the
  // client while the program runs.
  virtual std::string take_console_output() { return {}; }

  // What gostub knows of the program as a Go program; nullptr for a test double.
  virtual GoState* go() = 0;
  // Whether its executable is a Go program gostub can read (pclntab found).
  virtual bool is_go() { return false; }
};

inline target::Result<void> Program::remove_fork_child_breakpoint(pid_t child, std::uint64_t) {
  return target::fail(ESRCH, "no fork child " + std::to_string(child));
}
inline target::Result<void> Program::detach_fork_child(pid_t child) {
  return target::fail(ESRCH, "no fork child " + std::to_string(child));
}

}  // namespace gostub::server
