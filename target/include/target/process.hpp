// A traced Linux process, run in all-stop mode (the default) or non-stop mode.
//
// All ptrace calls come from the thread that created the Process (ptrace is per-thread). Nothing
// here blocks waiting for the program to run: resume() returns at once, and the owner calls
// handle_wait_events() whenever SIGCHLD arrives. All-stop: it returns the one stop to report,
// after every other thread has been stopped; events that other threads hit meanwhile stay
// pending on those threads and are reported by later resumes, one at a time (as gdbserver's
// linux-low does). Non-stop: a thread that stops stops alone, and handle_wait_events() returns
// one stop a call; the owner calls it until it returns nullopt (see set_non_stop).
//
// Threads here are OS threads (LWPs), named by their tid; goroutines are symbols/'s concern.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "target/debug_registers.hpp"
#include "target/displaced_step.hpp"
#include "target/error.hpp"
#include "target/wait_router.hpp"

namespace gostub::target {

struct LaunchOptions {
  std::vector<std::string> argv;  // argv[0]: the program, as the user named it
  bool stdout_to_stderr = false;  // RSP over stdin/stdout: keep the program off that channel
  bool take_terminal = true;      // make the program the terminal's foreground process group
  // What a client may set before it launches (QEnvironment*, QSetWorkingDir, QSetSTDIN, …):
  std::optional<std::vector<std::string>> environment;  // "NAME=VALUE"; absent: gostub's own
  std::string working_directory;                        // empty: gostub's own
  std::string stdin_path, stdout_path, stderr_path;     // empty: inherited
  bool disable_address_randomization = false;
  // gdbserver's way of starting: `$SHELL -c "exec [WRAPPER...] PROG ARGS"` (each argument
  // quoted, so the program gets them as given), the wrapper run first when there is one
  // (--wrapper). The program is the one left after every exec gostub expects: the shell's,
  // the wrapper's and the program's own.
  bool startup_with_shell = false;
  std::string shell;                 // empty: $SHELL, else /bin/sh
  std::vector<std::string> wrapper;  // e.g. {"env", "X=1"}
};

enum class ResumeKind : std::uint8_t { kContinue, kStep };

struct ThreadAction {
  pid_t tid;
  ResumeKind kind;
  int signal = 0;  // Linux signal to deliver, 0 for none
  // With kStep, range stepping: the thread steps on, with no stop reported, while its pc
  // stays in [range_start, range_end) (the others run meanwhile).
  std::uint64_t range_start = 0, range_end = 0;
};

// One mapping of the program's address space (/proc/PID/maps).
struct MemoryRegion {
  std::uint64_t start;
  std::uint64_t end;
  bool readable, writable, executable;
  std::string name;  // path, [heap], [stack], [vdso], or empty
};

struct ProcessFacts {
  pid_t parent_pid = 0;
  unsigned real_uid = 0, real_gid = 0, effective_uid = 0, effective_gid = 0;
  std::string working_directory;
};

struct StopEvent {
  enum class Kind : std::uint8_t {
    kSignal,      // the thread received `signal` (not delivered yet)
    kBreakpoint,  // a breakpoint of ours; pc is already back at its address
    kStepDone,    // a single-step finished
    kInterrupt,   // interrupt() stopped the program; no signal is pending
    kExited,      // the process exited with `exit_code`
    kTerminated,  // the process was killed by `signal`
    // With fork events on (set_fork_events): the thread forked `child`, which is held
    // stopped until the client detaches it or follows it (take_fork_child).
    kFork,
    kVfork,
    kVforkDone,  // the vfork child exec'd or exited: the parent's memory is its own again
    kExec,       // the program exec'd (executable() is the new file); signal is SIGTRAP
    // With set_catch_syscalls: the thread enters or leaves system call `syscall`.
    kSyscallEntry,
    kSyscallReturn,
    // With set_thread_events: a new thread's first stop; a thread (not the leader) exited
    // with `exit_code`.
    kThreadCreated,
    kThreadExited,
    // Every thread the last resume ran has exited and the others are stopped: no stop will
    // come (gdb's no-resumed).
    kNoResumed,
  };
  Kind kind;
  pid_t tid = 0;
  int signal = 0;
  int exit_code = 0;
  // A SIGTRAP (kind kSignal) from a debug register: which hardware breakpoint or watchpoint
  // fired. A watchpoint fires after the access (the pc is past the instruction); a hardware
  // breakpoint before the instruction (the pc is its address). When a single-step also
  // triggered a watchpoint, the watchpoint is reported (as gdbserver does).
  std::optional<HardwareHit> hardware = std::nullopt;
  pid_t child = 0;    // kFork, kVfork
  long syscall = -1;  // kSyscallEntry, kSyscallReturn: the x86-64 number
  // kBreakpoint: the hit filter let it pass, but its instruction could not be run displaced,
  // so every thread was stopped; the owner resumes them past it without asking again.
  bool passed = false;
  // kInterrupt in non-stop: the thread stopped because the client asked (request_stop, gdb's
  // vCont;t), told with no signal (T00), as gdbserver does.
  bool requested = false;

  static StopEvent requested_stop(pid_t tid) {
    StopEvent stop{Kind::kInterrupt, tid, 0, 0};
    stop.requested = true;
    return stop;
  }
};

// How hits the filter let pass were passed (see Process::set_hit_filter).
struct PassCounters {
  std::uint64_t in_place = 0;      // displaced: no other thread stopped
  std::uint64_t stopping_all = 0;  // not relocatable: every thread stopped
};

// Several Processes live side by side on the tracer thread: each takes its wait statuses
// through the thread's WaitRouter, which keeps the others' for them.
class Process : private WaitRouter::Member {
 public:
  static Result<std::unique_ptr<Process>> launch(const LaunchOptions& options);
  static Result<std::unique_ptr<Process>> attach(pid_t pid);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool attached() const { return attached_; }  // attached to, rather than launched by us
  bool alive() const { return alive_; }
  bool running() const;
  const std::string& executable() const { return executable_; }
  // Wait statuses another Process reaped for this one: handle_wait_events() takes them (the
  // kernel's SIGCHLD for them was consumed by the other's wait).
  // Non-stop: also stops ready to report that no wait status will announce.
  bool has_stashed_events() const {
    return router_.has_stashed(*this) || !ready_.empty() || yielded_;
  }

  // Non-stop mode (gdb's QNonStop:1). A thread's reportable event stops that thread alone;
  // handle_wait_events() returns one stop a call and the owner calls it again until nullopt
  // (one SIGCHLD may stand for many stops). resume() leaves running threads alone and the other
  // threads as they are; a hit the filter lets pass that cannot be relocated stops the others,
  // steps the thread over and restarts them, unseen. All-stop (off) is unchanged.
  void set_non_stop(bool on) { non_stop_ = on; }
  bool non_stop() const { return non_stop_; }
  bool thread_running(pid_t tid) const;
  // Non-stop: asks each running thread in `tids` to stop (PTRACE_INTERRUPT on that tid). Each
  // is reported later: a kInterrupt with `requested`, or what it hit first. Threads already
  // stopped are left as they are (nothing is reported for them).
  void request_stop(std::span<const pid_t> tids);

  // Threads, in the order they were first seen (the leader first).
  std::vector<pid_t> threads() const;
  bool has_thread(pid_t tid) const { return threads_.contains(tid); }
  std::string thread_name(pid_t tid) const;
  int thread_core(pid_t tid) const;  // -1 when unknown
  Result<std::string> auxv() const;
  Result<std::vector<MemoryRegion>> memory_regions() const;
  Result<ProcessFacts> facts() const;

  // Resumes the threads named in `actions`; the others stay stopped. When a resumed thread
  // already has a pending stop, nothing runs and that stop is returned instead.
  Result<std::optional<StopEvent>> resume(std::span<const ThreadAction> actions);
  // Every other thread's pending stop, handed over at once and counted as reported (lldb wants
  // each thread's own stop reason at every stop, as lldb-server gives it; gdb takes them one
  // resume at a time).
  std::vector<StopEvent> take_pending_stops();
  // Reaps the kernel's wait statuses; returns the stop to report, if one happened.
  std::optional<StopEvent> handle_wait_events();
  // Stops every running thread (the client's Ctrl-C) and returns the stop to report: an
  // interrupt, or the exit if the process ended meanwhile. nullopt when nothing was running.
  std::optional<StopEvent> interrupt_all();
  // Sends `signal` to the process as a whole, as a terminal's Ctrl-C does: the kernel hands it
  // to a thread that runs, and that thread's signal stop comes as an event (non-stop's vCtrlC;
  // with every thread stopped it waits, pending, for the first to run).
  Result<void> signal_process(int signal);
  // Signals in this set are delivered to the program at once, never reported (gdb's "pass,
  // nostop"). Linux numbers.
  void set_pass_signals(std::set<int> signals) { pass_signals_ = std::move(signals); }
  const std::set<int>& pass_signals() const { return pass_signals_; }
  // A passed signal that arrives while the client single-steps a thread is reported, as
  // gdbserver does (the client steps into the handler or over it); those in this set are held
  // instead and delivered with the thread's next continue (Go's preemption signal).
  void set_signals_held_while_stepping(std::set<int> signals) {
    held_while_stepping_ = std::move(signals);
  }
  // Signals the program may receive (gdb's QProgramSignals). A passed signal outside this set
  // is discarded instead of delivered ("nostop nopass"). nullopt: every signal.
  void set_program_signals(std::optional<std::set<int>> signals) {
    program_signals_ = std::move(signals);
  }

  Result<std::string> read_registers(pid_t tid) const;
  // The register file with only the general registers filled in (one ptrace call): enough
  // for the pc, sp and fp sent along with a stop.
  Result<std::string> read_general_registers(pid_t tid) const;
  Result<void> write_registers(pid_t tid, std::string_view file);
  Result<std::uint64_t> read_pc(pid_t tid) const;

  // Memory as the program sees it: breakpoint bytes of ours never show. A read that faults
  // part-way returns the bytes before the fault; one that reads nothing is an error.
  Result<std::string> read_memory(std::uint64_t address, std::size_t length) const;
  Result<void> write_memory(std::uint64_t address, std::string_view bytes);
  // Reads into `out` (no allocation), shadowing breakpoints; returns the bytes read.
  Result<std::size_t> read_memory_into(std::uint64_t address, std::span<char> out) const;
  // Many small reads in few system calls (process_vm_readv takes up to IOV_MAX ranges); a
  // range that fails is retried alone. ok[i] says whether out[i] was filled.
  struct MemoryRange {
    std::uint64_t address;
    std::span<char> out;
  };
  void read_memory_many(std::span<const MemoryRange> ranges, std::span<bool> ok) const;

  // A breakpoint has owners: the client's (Z0) and gostub's own (catching panics) may share
  // an address; its byte is restored when the last owner removes it.
  // kHardware: a hardware breakpoint kept as an int3, on a machine that does not deliver
  // debug-register traps (debug_traps_delivered()); its hits are reported as hardware hits.
  enum class BreakpointOwner : std::uint8_t { kClient = 1, kServer = 2, kHardware = 4 };
  Result<void> insert_breakpoint(std::uint64_t address,
                                 BreakpointOwner owner = BreakpointOwner::kClient);
  Result<void> remove_breakpoint(std::uint64_t address,
                                 BreakpointOwner owner = BreakpointOwner::kClient);
  bool has_breakpoint(std::uint64_t address) const { return breakpoints_.contains(address); }
  bool has_breakpoint(std::uint64_t address, BreakpointOwner owner) const;

  // Hardware breakpoints (kExecute; length ignored) and watchpoints in the four debug
  // registers, on every thread, including threads born later. A range is split over several
  // registers when unaligned or longer than 8 bytes; ENOSPC when the registers are used up.
  // Where debug traps are never delivered, a hardware breakpoint is an int3 instead (it then
  // fires, as the client asked; a watchpoint cannot be had that way and is set as asked).
  static constexpr int kHardwareSlots = DebugRegisterState::kSlots;
  Result<void> insert_hardware_point(HardwareKind kind, std::uint64_t address,
                                     std::uint64_t length);
  Result<void> remove_hardware_point(HardwareKind kind, std::uint64_t address,
                                     std::uint64_t length);
  // Debug register `index` (0-3, 6, 7) of a stopped thread, as the kernel has it.
  Result<std::uint64_t> debug_register(pid_t tid, int index) const;

  // The signal information (siginfo_t: 128 raw bytes) of a thread stopped by a signal, and a
  // change to it, carried by the signal when it is delivered.
  static constexpr std::size_t kSiginfoSize = 128;
  Result<std::string> read_siginfo(pid_t tid) const;
  Result<void> write_siginfo(pid_t tid, std::string_view bytes);
  // Runs one system call in the stopped program, on `tid`'s behalf, and returns its raw result
  // (a negative errno on failure): the thread's registers and the code under its pc are saved,
  // a `syscall` instruction is put at the pc and single-stepped alone, and everything is put
  // back. How memory is allocated in the program (lldb's _M, for Delve). x86-64 numbering.
  Result<std::int64_t> inject_syscall(pid_t tid, long number,
                                      std::span<const std::uint64_t> arguments);

  // Fork and vfork children are always traced from birth. With fork events off (the default)
  // each is let go at once, without the breakpoints it inherited; on, the fork is reported
  // (kFork/kVfork, then kVforkDone) and the child held stopped for the client.
  // Turning them off lets every held child go: nobody is left to decide about them.
  void set_fork_events(bool fork, bool vfork) {
    forks_.report_fork = fork;
    forks_.report_vfork = vfork;
    if (!fork && !vfork) {
      while (!forks_.held.empty()) release_fork_child(forks_.held.begin()->first);
    }
  }
  bool holds_fork_child(pid_t child) const { return forks_.held.contains(child); }
  // Restores the byte under one inherited breakpoint in a held child (gdb removes them one by
  // one before it detaches the child). Shared memory (vfork) is left alone: it is the parent's.
  Result<void> remove_fork_child_breakpoint(pid_t child, std::uint64_t address);
  // Lets a held child run on untraced, without the breakpoints it inherited.
  Result<void> detach_fork_child(pid_t child);
  void kill_fork_child(pid_t child);
  // A held child as a Process of its own, stopped, with the breakpoints it still has (a vfork
  // child: none, its memory is this one's). nullptr when `child` is not held.
  std::unique_ptr<Process> take_fork_child(pid_t child);

  // Thread creation and exit reported as stops (gdb's QThreadEvents).
  void set_thread_events(bool on) { reporting_.thread_events = on; }

  // gdb's `catch syscall`: threads continue with PTRACE_SYSCALL and stop at the entry and the
  // return of the system calls named (an empty set: all). nullopt: off, plain PTRACE_CONT.
  void set_catch_syscalls(std::optional<std::set<long>> numbers) {
    catch_syscalls_ = std::move(numbers);
  }

  // Hits nobody needs to see (a false condition, a logpoint). The filter is asked when a
  // thread hits a client breakpoint while it continues, before any other thread is stopped;
  // true lets the hit pass: the thread runs a relocated copy of the instruction in the scratch
  // area (displaced stepping) and goes on, the others never stop. What cannot be relocated is
  // reported as a `passed` stop after stopping all. The filter may read registers and memory,
  // never resume.
  using HitFilter = std::function<bool(pid_t tid, std::uint64_t address)>;
  void set_hit_filter(HitFilter filter) { hit_filter_ = std::move(filter); }
  // Maps the scratch area for displaced stepping near the program's text (an mmap run by a
  // stopped thread): call at a stop; once is enough.
  Result<void> prepare_displaced_stepping();
  bool displaced_stepping_ready() const { return displaced_.has_area(); }
  const PassCounters& pass_counters() const { return pass_counters_; }
  void count_pass_stopping_all() { ++pass_counters_.stopping_all; }

  // Kills the program and reaps it (held fork children are killed on their own, or with the
  // Process). Returns the final stop (kTerminated).
  StopEvent kill();
  // Removes every breakpoint and lets the program run on untraced.
  Result<void> detach();

 private:
  struct Thread {
    bool running = false;
    bool stepping = false;             // the current resume is a single-step
    bool awaiting_first_stop = false;  // a new clone whose initial stop has not been reaped
    std::uint64_t order = 0;           // when it was first seen
    std::optional<StopEvent> pending;  // a stop seen while stopping all, not yet reported
    std::vector<int> held_signals;     // passed signals that arrived mid-step
    // Stopped where ptrace can deliver a signal (the thread's own signal, not our interrupt
    // or an event); elsewhere a signal to deliver is sent (`sent_signal`) and delivered at its
    // stop, unreported.
    bool in_signal_delivery_stop = false;
    int sent_signal = 0;
    // The breakpoint address of the last stop reported for this thread. Only then does a
    // resume step over the breakpoint under the pc: a thread merely stopped at a breakpoint
    // address has not hit it yet, and must, or the hit would be lost.
    std::optional<std::uint64_t> reported_breakpoint;
    std::uint64_t range_start = 0, range_end = 0;  // range stepping: see ThreadAction
    // A breakpoint hit taken from a still-queued SIGTRAP at an interrupt stop: that SIGTRAP,
    // delivered at the next resume, is the same hit and is dropped.
    bool drop_queued_trap = false;
    // Likewise a single-step's SIGTRAP still queued at an interrupt stop: the step is done (the
    // pc moved), the trap is dropped when delivered, whatever the next resume is.
    bool drop_queued_step_trap = false;
    // Resumed into a scratch-area slot (a hit passed in place) and not seen outside the area
    // since: only such a thread can be caught in one when everything stops.
    bool maybe_in_scratch_area = false;
    // The general registers as read at this stop: a stop's readers (the stop reply, the
    // interrupt check, thread names, `g`) share one PTRACE_GETREGS. Forgotten whenever the
    // thread runs or we write its registers.
    mutable std::optional<user_regs_struct> general;
    // The last resume was a continue (not a step): non-stop asks the hit filter only then.
    bool continuing = false;
    // Non-stop: the client asked this thread to stop (request_stop) and has not been told yet.
    bool stop_requested = false;
  };

  Process();
  bool owns_task(pid_t tid) const override;

  Result<void> seize_all_threads();
  Thread& add_thread(pid_t tid);
  // PTRACE_EVENT_CLONE of `parent`: the new thread is expected, unless already seen.
  // The new thread, added; its first stop when that came first as an early stop (to be
  // replayed through on_wait_status by the caller).
  std::optional<WaitStatus> on_clone_event(pid_t parent);

  // Classifies one wait status. Returns a stop to report; may resume the thread instead.
  std::optional<StopEvent> on_wait_status(pid_t tid, int status, bool stopping_all);
  // PTRACE_EVENT_FORK/VFORK of `tid`: the child's first stop is waited for, then the child is
  // held (reported) or let go.
  std::optional<StopEvent> on_fork(pid_t tid, bool vfork);
  // A PTRACE_SYSCALL stop (SIGTRAP | 0x80): reported when caught, else the thread runs on.
  std::optional<StopEvent> on_syscall_stop(pid_t tid, Thread& thread);
  void release_fork_child(pid_t child);
  std::optional<StopEvent> on_signal_stop(pid_t tid, Thread& thread, int signal);
  std::optional<StopEvent> queued_breakpoint_hit(pid_t tid, Thread& thread);
  bool sigtrap_queued(pid_t tid) const;
  Result<user_regs_struct> general_registers(pid_t tid) const;
  void forget_registers(pid_t tid);
  void stop_all_threads();
  // A leader that ended (pthread_exit) while other threads run is a zombie that no wait
  // reports until they end too: it is dropped from the threads, as gdbserver does (a thread's
  // exec makes the leader a zombie for a moment too: it comes back with the exec event). True
  // when it was.
  bool forget_zombie_leader();
  bool wait_until_stopped(pid_t tid);
  bool breakpoint_fault(pid_t tid, int signal);
  // No thread runs, and none is new and still to report its first stop.
  bool settled() const;
  void resume_thread(pid_t tid, Thread& thread, ResumeKind kind, int signal);
  // `signal`: one the client delivers with this resume, delivered with the step.
  Result<StopEvent> step_over_breakpoint(pid_t tid, Thread& thread, std::uint64_t pc, int signal);
  // Single-steps `tid` alone (delivering `delivered`) until the step completes; signals
  // meanwhile are held. A stop that ends the step otherwise (the process gone, the thread
  // exited) is returned.
  std::optional<StopEvent> step_alone(pid_t tid, Thread& thread, int delivered = 0);
  std::optional<StopEvent> take_pending_stop(std::span<const ThreadAction> actions);
  void on_process_gone(const StopEvent& event);
  // Non-stop's handle_wait_events().
  std::optional<StopEvent> next_non_stop_event();
  // Non-stop: `tid` hit a breakpoint the filter lets pass that cannot be run displaced: the
  // other threads are stopped, `tid` steps over it and runs on, and the others are restarted.
  void pass_stopping_others(pid_t tid, std::uint64_t address);
  // Non-stop: the running threads (but `except`), stopped for a while; restart_threads() runs
  // them again, or queues the stop one of them hit meanwhile (ready_).
  struct Paused {
    std::vector<pid_t> threads;
    std::uint64_t born_from;  // threads with this `order` or later were born since
  };
  Paused pause_running_threads(pid_t except);
  void restart_threads(const Paused& paused);
  // Whether `tid` stands at `reported`, the breakpoint last reported for it, still inserted:
  // only then is it stepped over when resumed.
  bool at_reported_breakpoint(pid_t tid, const std::optional<std::uint64_t>& reported);
  Result<std::optional<StopEvent>> resume_stopped(std::span<const ThreadAction> actions);
  // Every stop handed to the caller goes through here.
  StopEvent report(const StopEvent& stop);
  Result<void> write_pc(pid_t tid, std::uint64_t pc);
  // Runs `tid`, stopped at breakpoint `address`, on through its displaced copy; false when the
  // instruction cannot be relocated (or there is no scratch area).
  bool pass_in_place(pid_t tid, std::uint64_t address);
  // After stopping all: a thread caught at the start of a displaced copy is put back at the
  // breakpoint, so the client never sees a pc there (`reporting`: the thread whose own stop
  // is reported, e.g. a fault in the copy).
  void leave_scratch_area(pid_t reporting);
  Result<void> poke_bytes(std::uint64_t address, std::string_view bytes);
  // The byte in memory, our int3s included; nullopt when it cannot be read.
  std::optional<std::uint8_t> read_raw_byte(std::uint64_t address) const;

  WaitRouter& router_;
  pid_t pid_ = -1;
  bool attached_ = false;
  bool alive_ = true;
  std::string executable_;
  int memory_fd_ = -1;  // /proc/PID/mem, for writes to read-only text and faulting reads
  std::uint64_t next_order_ = 0;
  std::map<pid_t, Thread> threads_;
  std::set<pid_t> clones_seen_first_;  // first stop seen before the parent's clone event
  struct Breakpoint {
    std::uint8_t original;
    std::uint8_t owners;  // BreakpointOwner bits
  };
  std::map<std::uint64_t, Breakpoint> breakpoints_;
  std::set<int> pass_signals_;
  std::set<int> held_while_stepping_;
  std::optional<std::set<int>> program_signals_;
  std::optional<StopEvent> exit_event_;  // the process ended while other work was under way
  DebugRegisters debug_registers_;
  // Children of fork/vfork held for the client: their inherited breakpoints (a vfork child's
  // memory is the parent's, so none of its own).
  struct ForkChild {
    bool vfork = false;
    std::map<std::uint64_t, Breakpoint> breakpoints;
  };
  struct Forks {
    std::map<pid_t, ForkChild> held;
    // A new task's first stop seen before its parent's event, with its status: a fork child's,
    // or a clone's without CLONE_THREAD (a task of its own group; the parent's CLONE event
    // makes it one of our threads, as gdbserver does).
    std::map<pid_t, int> early_stops;
    bool report_fork = false, report_vfork = false;
  } forks_;
  std::optional<std::set<long>> catch_syscalls_;
  struct Reporting {
    bool thread_events = false;
    bool stop_owed = false;  // threads were resumed and no stop was reported since
  } reporting_;
  HitFilter hit_filter_;
  DisplacedSlots displaced_;
  PassCounters pass_counters_;
  bool non_stop_ = false;
  // Non-stop: stops seen while other threads were paused, reported by handle_wait_events().
  std::deque<StopEvent> ready_;
  bool yielded_ = false;  // non-stop: handle_wait_events() stopped early, statuses may wait
};

}  // namespace gostub::target
