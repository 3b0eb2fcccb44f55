// The program model over the ptrace engine: a target::Process and everything gostub learns
// about it (GoState), its client breakpoint conditions, and its last stop. Made when a program
// is launched, attached or forked (a child the client keeps), dropped as a whole once it ended.
#pragma once

#include <memory>
#include <set>

#include "server/agent_output.hpp"
#include "server/go_state.hpp"
#include "server/program.hpp"
#include "server/stack_watches.hpp"

namespace gostub::server {

class TracedProgram final : public Program {
 public:
  TracedProgram(std::unique_ptr<target::Process> process, const GoSettings& settings);

  pid_t pid() const override { return process_->pid(); }
  bool alive() const override { return process_->alive(); }
  bool attached() const override { return process_->attached(); }
  bool running() const override { return process_->running(); }
  const std::string& executable() const override { return process_->executable(); }
  const std::optional<target::StopEvent>& last_stop() const override { return last_stop_; }
  bool resumed_yet() const override { return resumed_yet_; }
  void collect_other_stops() override;
  const std::map<pid_t, target::StopEvent>& other_stops() const override { return other_stops_; }

  std::vector<ClientThread> threads() override;
  bool has_thread(ClientThread thread) override;
  std::string thread_name(ClientThread thread) override;
  int thread_core(ClientThread thread) override;
  target::Result<std::string> registers(ClientThread thread) override;
  target::Result<std::string> general_registers(ClientThread thread) override;
  target::Result<std::uint64_t> pc(ClientThread thread) override;
  GoIdentity goroutine_identity(ClientThread thread) override;
  Outcome<void> write_registers(ClientThread thread, std::string_view file) override;
  std::optional<Failure> refuse_resume(ClientThread thread) override;

  target::Result<std::size_t> read_memory(std::uint64_t address,
                                          std::span<char> out) const override {
    return process_->read_memory_into(address, out);
  }
  target::Result<void> write_memory(std::uint64_t address, std::string_view bytes) override {
    return process_->write_memory(address, bytes);
  }
  target::Result<std::vector<target::MemoryRegion>> memory_regions() const override {
    return process_->memory_regions();
  }
  target::Result<std::uint64_t> allocate_memory(std::uint64_t size, bool readable, bool writable,
                                                bool executable) override;
  target::Result<void> deallocate_memory(std::uint64_t address) override;
  target::Result<std::string> auxv() const override { return process_->auxv(); }
  target::Result<target::ProcessFacts> facts() const override { return process_->facts(); }

  target::Result<void> insert_breakpoint(std::uint64_t address, BreakpointAgent agent) override;
  target::Result<void> remove_breakpoint(std::uint64_t address) override;
  target::Result<void> insert_hardware_point(target::HardwareKind kind, std::uint64_t address,
                                             std::uint64_t length) override;
  target::Result<void> remove_hardware_point(target::HardwareKind kind, std::uint64_t address,
                                             std::uint64_t length) override;
  target::Result<std::string> siginfo(ClientThread thread) override;
  target::Result<void> write_siginfo(ClientThread thread, std::string_view bytes) override;

  void set_signals(const SignalSettings& signals) override;
  target::Result<std::optional<StopReport>> resume(
      std::span<const target::ThreadAction> plan) override;
  std::optional<StopReport> handle_wait_events() override;
  bool has_stashed_events() const override { return process_->has_stashed_events(); }
  std::optional<StopReport> interrupt() override;
  target::StopEvent kill() override;
  target::Result<void> detach() override;

  GoState* go() override { return go_.get(); }
  Trace& trace() override { return trace_; }
  target::Result<void> start_tracing() override;
  target::Result<void> update_tracing() override;
  void stop_tracing(Trace::StopReason reason) override;
  HitCounters hit_counters() const override;
  std::string take_console_output() override { return agent_output_.take(); }

  void set_fork_events(bool fork, bool vfork) override { process_->set_fork_events(fork, vfork); }
  void set_thread_events(bool on) override { process_->set_thread_events(on); }
  void set_non_stop(bool on) override { process_->set_non_stop(on); }
  bool non_stop() const override { return process_->non_stop(); }
  bool thread_running(ClientThread thread) const override {
    return !thread.is_goroutine() && process_->thread_running(thread.tid());
  }
  void request_stop(std::span<const pid_t> tids) override { process_->request_stop(tids); }
  target::Result<void> signal_interrupt() override;
  std::optional<StopTheWorld> stop_the_world() override;
  bool is_go() override;
  bool holds_fork_child(pid_t child) const override { return process_->holds_fork_child(child); }
  target::Result<void> remove_fork_child_breakpoint(pid_t child, std::uint64_t address) override {
    return process_->remove_fork_child_breakpoint(child, address);
  }
  target::Result<void> detach_fork_child(pid_t child) override {
    return process_->detach_fork_child(child);
  }
  void kill_fork_child(pid_t child) override { process_->kill_fork_child(child); }
  std::unique_ptr<Program> take_fork_child(pid_t child) override;

 private:
  // The stop to report for `stop`, or nullopt when the program was resumed past it (a
  // breakpoint whose every condition is false).
  // `filtered`: the hit filter saw this stop (a tracepoint there has collected already).
  std::optional<StopReport> report(target::StopEvent stop, bool filtered);
  bool condition_false(const target::StopEvent& stop);
  // After an exec: everything learnt from the image that was replaced is dropped.
  void forget_image();
  // The client's signal settings (signals_), with Go's preemption signal always passed in a Go
  // program, given to the engine.
  void apply_signals();
  // Whether thread `tid`'s hit of the client breakpoint at `pc` needs no report (every
  // condition false, or commands run). Reads registers and memory only.
  bool hit_passes(pid_t tid, std::uint64_t pc);
  // A tracepoint hit: its frame, whatever the client's resume was.
  void collect_trace(pid_t tid, std::uint64_t pc);
  // A breakpoint gostub set for tracepoints only (no client breakpoint, no catch point), at
  // `pc`; a stop that is a hit of one.
  bool only_a_tracepoint_at(std::uint64_t pc) const;
  bool tracepoint_only(const target::StopEvent& stop);
  void remove_trace_breakpoints();
  const symbols::Goroutine* parked(ClientThread thread);
  Failure refusal(ClientThread thread) const;

  std::unique_ptr<target::Process> process_;
  std::unique_ptr<GoState> go_;  // made anew at an exec: the image it knew is gone
  std::map<std::uint64_t, BreakpointAgent> agents_;  // breakpoints with conditions or commands
  Trace trace_;
  std::set<std::uint64_t> trace_breakpoints_;    // gostub's breakpoints for tracepoints
  std::vector<target::ThreadAction> last_plan_;  // the last resume's, redone past tracepoints
  AgentOutput agent_output_;
  StackWatches stack_watches_;
  std::optional<target::StopEvent> last_stop_;
  std::map<pid_t, target::StopEvent> other_stops_;
  std::map<std::uint64_t, std::uint64_t> allocations_;  // _M's mappings: address -> size
  SignalSettings signals_;                              // the client's, as last set
  bool resumed_yet_ = false;
  // The last resume continued every thread: redone past false breakpoint conditions.
  bool continued_all_ = false;
};

// Starts and attaches programs for the server (a test double stands in for it in unit tests).
class ProgramFactory {
 public:
  virtual ~ProgramFactory() = default;
  virtual target::Result<std::unique_ptr<Program>> launch(const target::LaunchOptions& options) = 0;
  virtual target::Result<std::unique_ptr<Program>> attach(pid_t pid) = 0;
};

class TracedProgramFactory final : public ProgramFactory {
 public:
  explicit TracedProgramFactory(const GoSettings& settings) : settings_(settings) {}
  target::Result<std::unique_ptr<Program>> launch(const target::LaunchOptions& options) override;
  target::Result<std::unique_ptr<Program>> attach(pid_t pid) override;
  std::unique_ptr<Program> adopt(std::unique_ptr<target::Process> process) const;

 private:
  const GoSettings& settings_;
};

}  // namespace gostub::server
