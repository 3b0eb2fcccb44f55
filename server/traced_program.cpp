#include "server/traced_program.hpp"

#include <fmt/core.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "server/debug_log.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

// Signals passed to a Go program whatever the client's QPassSignals says. SIGURG is how Go's
// runtime preempts goroutines (several a second per busy thread): it means nothing to a user,
// and gdb 13 clears its pass list around every step-over, so reporting it derails the step
// and the client re-reports the breakpoint it was stepping over.
constexpr int kAlwaysPassed = SIGURG;

// Registers and memory of the thread that hit a conditional breakpoint. The general registers
// are this stop's (no system call); the whole file, x87 and SSE control words included, is read
// only for a condition that names one of those.
class StoppedThread : public protocol::AgentContext {
 public:
  StoppedThread(const target::Process& process, pid_t tid, std::function<GoIdentity()> go,
                std::string* printed = nullptr)
      : process_(process), tid_(tid), go_(std::move(go)), printed_(printed) {}
  void print(std::string_view text) const override {
    if (printed_ != nullptr) printed_->append(text);
  }
  std::optional<std::uint64_t> register_value(std::uint32_t regno) const override {
    if (const auto which = go_register(regno)) return go_().value(*which);
    const auto registers = target::x86_64_registers();
    if (regno >= registers.size() || registers[regno].bitsize > 64) return std::nullopt;
    const bool general = target::is_general_register(regno);
    auto& file = general ? general_ : whole_;
    if (!file) {
      auto read = general ? process_.read_general_registers(tid_) : process_.read_registers(tid_);
      if (!read) return std::nullopt;
      file = std::move(*read);
    }
    return target::register_value(*file, regno);
  }
  bool read_memory(std::uint64_t address, std::span<char> out) const override {
    const auto got = process_.read_memory_into(address, out);
    return got && *got == out.size();
  }

 private:
  const target::Process& process_;
  pid_t tid_;
  std::function<GoIdentity()> go_;
  std::string* printed_;
  mutable std::optional<std::string> general_, whole_;
};

}  // namespace

TracedProgram::TracedProgram(std::unique_ptr<target::Process> process, const GoSettings& settings)
    : process_(std::move(process)), go_(std::make_unique<GoState>(*process_, settings)) {
  if (process_->alive()) {
    // Like gdbserver: a launched program is stopped by exec's SIGTRAP, an attached one by SIGSTOP.
    last_stop_ = target::StopEvent{target::StopEvent::Kind::kSignal, process_->pid(),
                                   process_->attached() ? SIGSTOP : SIGTRAP, 0};
  }
  set_signals({});
  // Asked before the other threads are stopped: only while every thread continues is a hit
  // nobody needs to see passed (a step the client asked for must end in a report).
  process_->set_hit_filter([this](pid_t tid, std::uint64_t address) {
    go_->forget_stop();  // the thread ran since the last look at its goroutine
    collect_trace(tid, address);
    // Non-stop: the engine asks only for a thread that was continued.
    if (!continued_all_ && !process_->non_stop()) return false;
    return hit_passes(tid, address);
  });
  go_->catches().apply();
  go_->prepare_symbol_image();
}

void TracedProgram::collect_other_stops() {
  if (!process_->alive()) return;
  for (const auto& other : process_->take_pending_stops()) other_stops_.emplace(other.tid, other);
}

const symbols::Goroutine* TracedProgram::parked(ClientThread thread) {
  return thread.is_goroutine() ? go_->parked(thread.goroutine_id()) : nullptr;
}

std::vector<ClientThread> TracedProgram::threads() {
  std::vector<ClientThread> out;
  for (const pid_t tid : process_->threads()) out.push_back(ClientThread::os_thread(tid));
  if (!go_->settings().goroutine_threads) return out;
  std::string why_not;
  if (const auto* all = go_->goroutines(why_not)) {
    for (const auto& goroutine : *all) {
      if (goroutine.thread == 0) out.push_back(ClientThread::goroutine(goroutine.id));
    }
  }
  return out;
}

bool TracedProgram::has_thread(ClientThread thread) {
  if (thread.is_goroutine()) return parked(thread) != nullptr;
  return process_->has_thread(thread.tid());
}

std::string TracedProgram::thread_name(ClientThread thread) {
  if (const auto* goroutine = parked(thread)) {
    return fmt::format("goroutine {} {} [{}]", goroutine->id,
                       go_->reader()->function_at(goroutine->start_pc), go_->status(*goroutine));
  }
  if (thread.is_goroutine()) return {};
  if (const auto registers = process_->read_general_registers(thread.tid())) {
    if (auto name = go_->thread_goroutine_name(*registers)) return std::move(*name);
  }
  return process_->thread_name(thread.tid());
}

GoIdentity TracedProgram::goroutine_identity(ClientThread thread) {
  if (const auto* goroutine = parked(thread)) return {goroutine->id, goroutine->g};
  if (thread.is_goroutine()) return {};
  if (const auto registers = process_->read_general_registers(thread.tid())) {
    if (const auto* running = go_->thread_goroutine(*registers)) return {running->id, running->g};
  }
  return {};
}

int TracedProgram::thread_core(ClientThread thread) {
  return thread.is_goroutine() ? -1 : process_->thread_core(thread.tid());
}

target::Result<std::string> TracedProgram::registers(ClientThread thread) {
  if (const auto* goroutine = parked(thread)) {
    // What the runtime saved when it parked the goroutine; the rest reads as zero.
    std::string file(target::register_file_size(), '\0');
    const auto registers = target::x86_64_registers();
    for (const auto& [n, value] : {std::pair{target::regno::kRip, goroutine->pc},
                                   {target::regno::kRsp, goroutine->sp},
                                   {target::regno::kRbp, goroutine->bp}}) {
      std::memcpy(file.data() + registers[n].offset, &value, 8);
    }
    return file;
  }
  if (thread.is_goroutine()) return target::fail(ESRCH, "no such goroutine thread");
  return process_->read_registers(thread.tid());
}

target::Result<std::string> TracedProgram::general_registers(ClientThread thread) {
  if (thread.is_goroutine()) return registers(thread);
  return process_->read_general_registers(thread.tid());
}

target::Result<std::uint64_t> TracedProgram::pc(ClientThread thread) {
  if (const auto* goroutine = parked(thread)) return goroutine->pc;
  if (thread.is_goroutine()) return target::fail(ESRCH, "no such goroutine thread");
  return process_->read_pc(thread.tid());
}

Failure TracedProgram::refusal(ClientThread thread) const {
  return Failure::told(
      EPERM, fmt::format("thread {} is goroutine {}, parked: gostub shows its stack but cannot "
                         "run it or change its registers on its own; select an OS thread",
                         thread.wire(), thread.goroutine_id()));
}

Outcome<void> TracedProgram::write_registers(ClientThread thread, std::string_view file) {
  if (thread.is_goroutine()) return std::unexpected(refusal(thread));
  if (auto written = process_->write_registers(thread.tid(), file); !written) {
    return std::unexpected(Failure::from(written.error()));
  }
  return {};
}

std::optional<Failure> TracedProgram::refuse_resume(ClientThread thread) {
  if (thread.is_goroutine()) return refusal(thread);
  return std::nullopt;
}

target::Result<void> TracedProgram::insert_breakpoint(std::uint64_t address,
                                                      BreakpointAgent agent) {
  if (auto inserted = process_->insert_breakpoint(address); !inserted) return inserted;
  const bool passes = !agent.conditions.empty() || !agent.commands.empty();
  if (passes && !process_->displaced_stepping_ready()) {
    // Now, while the program is stopped; without it hits are passed by stopping all threads.
    if (auto prepared = process_->prepare_displaced_stepping(); !prepared) {
      debug_log().print(DebugLog::Component::kThreads, "no displaced stepping: {}",
                        prepared.error().message);
    }
  }
  // gdb sends the whole condition list again whenever it changes, without a z0 first.
  if (passes) {
    agents_[address] = std::move(agent);
  } else {
    agents_.erase(address);
  }
  return {};
}

target::Result<void> TracedProgram::remove_breakpoint(std::uint64_t address) {
  if (auto removed = process_->remove_breakpoint(address); !removed) return removed;
  agents_.erase(address);
  return {};
}

target::Result<void> TracedProgram::insert_hardware_point(target::HardwareKind kind,
                                                          std::uint64_t address,
                                                          std::uint64_t length) {
  if (auto inserted = process_->insert_hardware_point(kind, address, length); !inserted) {
    return inserted;
  }
  if (kind != target::HardwareKind::kExecute) {
    std::string why_not;
    if (const auto* goroutines = go_->goroutines(why_not))
      stack_watches_.note(address, *goroutines);
  }
  return {};
}

target::Result<void> TracedProgram::remove_hardware_point(target::HardwareKind kind,
                                                          std::uint64_t address,
                                                          std::uint64_t length) {
  if (auto removed = process_->remove_hardware_point(kind, address, length); !removed) {
    return removed;
  }
  if (kind != target::HardwareKind::kExecute) stack_watches_.forget(address);
  return {};
}

target::Result<std::string> TracedProgram::siginfo(ClientThread thread) {
  if (thread.is_goroutine()) return target::fail(ESRCH, "a parked goroutine has no signal");
  return process_->read_siginfo(thread.tid());
}

target::Result<void> TracedProgram::write_siginfo(ClientThread thread, std::string_view bytes) {
  if (thread.is_goroutine()) return target::fail(ESRCH, "a parked goroutine has no signal");
  return process_->write_siginfo(thread.tid(), bytes);
}

target::Result<std::uint64_t> TracedProgram::allocate_memory(std::uint64_t size, bool readable,
                                                             bool writable, bool executable) {
  const auto threads = process_->threads();
  if (threads.empty()) return target::fail(ESRCH, "no thread to run mmap on");
  const std::uint64_t protection =
      (readable ? PROT_READ : 0) | (writable ? PROT_WRITE : 0) | (executable ? PROT_EXEC : 0);
  const std::uint64_t arguments[] = {0, size, protection, MAP_PRIVATE | MAP_ANONYMOUS, ~0ULL, 0};
  auto result = process_->inject_syscall(threads.front(), SYS_mmap, arguments);
  if (!result) return std::unexpected(result.error());
  if (*result < 0 && *result > -4096) {
    return target::fail(static_cast<int>(-*result), "mmap in the program failed");
  }
  const auto address = static_cast<std::uint64_t>(*result);
  allocations_[address] = size;
  return address;
}

target::Result<void> TracedProgram::deallocate_memory(std::uint64_t address) {
  const auto found = allocations_.find(address);
  if (found == allocations_.end()) {
    return target::fail(EINVAL, "not memory that _M allocated");
  }
  const auto threads = process_->threads();
  if (threads.empty()) return target::fail(ESRCH, "no thread to run munmap on");
  const std::uint64_t arguments[] = {address, found->second};
  auto result = process_->inject_syscall(threads.front(), SYS_munmap, arguments);
  if (!result) return std::unexpected(result.error());
  if (*result != 0) {
    return target::fail(static_cast<int>(-*result), "munmap in the program failed");
  }
  allocations_.erase(found);
  return {};
}

void TracedProgram::set_signals(const SignalSettings& signals) {
  signals_ = signals;
  apply_signals();
}

void TracedProgram::apply_signals() {
  process_->set_catch_syscalls(signals_.syscalls);
  // Go's preemption signal is always passed, and must always reach the runtime. Other
  // programs get what the client asked, as with gdbserver (gdb's own tests send SIGURG).
  const bool go = is_go();
  auto passed = signals_.pass;
  if (go) passed.insert(kAlwaysPassed);
  process_->set_pass_signals(std::move(passed));
  process_->set_signals_held_while_stepping(go ? std::set<int>{kAlwaysPassed} : std::set<int>{});
  if (signals_.program) {
    auto allowed = *signals_.program;
    if (go) allowed.insert(kAlwaysPassed);
    process_->set_program_signals(std::move(allowed));
  } else {
    process_->set_program_signals(std::nullopt);
  }
}

target::Result<std::optional<StopReport>> TracedProgram::resume(
    std::span<const target::ThreadAction> plan) {
  other_stops_.clear();
  go_->forget_stop();
  if (!trace_.running() && !trace_breakpoints_.empty()) {
    remove_trace_breakpoints();  // the run ended itself (a pass count, a full buffer)
  }
  last_plan_.assign(plan.begin(), plan.end());
  continued_all_ = plan.size() == process_->threads().size() &&
                   std::all_of(plan.begin(), plan.end(), [](const target::ThreadAction& action) {
                     return action.kind == target::ResumeKind::kContinue;
                   });
  resumed_yet_ = true;
  auto resumed = process_->resume(plan);
  if (!resumed) return std::unexpected(resumed.error());
  if (!*resumed) return std::nullopt;
  return report(**resumed, false);  // a pending stop: nothing ran
}

std::optional<StopReport> TracedProgram::handle_wait_events() {
  if (!process_->alive()) return std::nullopt;
  auto stop = process_->handle_wait_events();
  if (!stop) return std::nullopt;
  return report(*stop, true);
}

std::optional<StopReport> TracedProgram::interrupt() {
  auto stop = process_->interrupt_all();
  if (!stop) return std::nullopt;
  return report(*stop, false);
}

bool TracedProgram::is_go() {
  std::string why_not;
  return go_->binary(why_not) != nullptr;
}

target::Result<void> TracedProgram::signal_interrupt() {
  return process_->signal_process(SIGINT);
}

target::StopEvent TracedProgram::kill() {
  last_stop_ = process_->kill();
  return *last_stop_;
}

target::Result<void> TracedProgram::detach() {
  return process_->detach();
}

void TracedProgram::forget_image() {
  // The engine dropped the old image's breakpoints; what was learnt from it (binary, catch
  // points, goroutine layout, the client's conditions, _M mappings) goes with them.
  const GoSettings& settings = go_->settings();
  go_ = std::make_unique<GoState>(*process_, settings);
  go_->catches().apply();
  go_->prepare_symbol_image();
  apply_signals();  // a Go program may exec a C one, or the other way round
  agents_.clear();
  trace_breakpoints_.clear();  // tracepoints stay defined: gdb inserts them anew with its own
  stack_watches_ = StackWatches{};
  allocations_.clear();
}

std::optional<StopReport> TracedProgram::report(target::StopEvent stop, bool filtered) {
  for (;;) {
    if (!filtered && stop.kind == target::StopEvent::Kind::kBreakpoint) {
      // A hit kept pending while the threads were stopped: the filter never saw it.
      if (const auto pc = process_->read_pc(stop.tid)) collect_trace(stop.tid, *pc);
    }
    const bool passes = stop.passed || condition_false(stop);
    // A tracepoint hit during a resume that was no plain continue (the client steps one
    // thread): the hit is the server's own, the client's resume is redone as it was.
    // Non-stop: the engine passed what the filter let pass itself, with the others restarted
    // as they were; resuming every thread here would run threads the client keeps stopped.
    if (process_->non_stop() || (!passes && !tracepoint_only(stop))) break;
    process_->count_pass_stopping_all();  // every thread is stopped here
    // The client never hears of it. Threads born since join the resume; signals are not resent.
    std::vector<target::ThreadAction> plan;
    for (const pid_t tid : process_->threads()) {
      const auto planned =
          std::find_if(last_plan_.begin(), last_plan_.end(),
                       [tid](const target::ThreadAction& action) { return action.tid == tid; });
      if (continued_all_ || planned == last_plan_.end()) {
        plan.push_back({tid, target::ResumeKind::kContinue, 0});
      } else {
        auto action = *planned;
        action.signal = 0;
        plan.push_back(action);
      }
    }
    go_->forget_stop();
    auto resumed = process_->resume(plan);
    if (!resumed) break;                 // reported as it is
    if (!*resumed) return std::nullopt;  // running again
    stop = **resumed;
    filtered = false;
  }
  continued_all_ = false;
  if (stop.kind == target::StopEvent::Kind::kExec) forget_image();
  StopReport out;
  out.stop = go_->catches().translate(stop, out.console);
  if (!stack_watches_.empty() && process_->alive()) {
    std::string why_not;
    if (const auto* goroutines = go_->goroutines(why_not)) {
      out.console += stack_watches_.check(*goroutines);
    }
  }
  if (!out.console.empty()) debug_log().print(DebugLog::Component::kThreads, "{}", out.console);
  // "Nothing left running" is no stop of a thread: `?` still tells the last one.
  if (out.stop.kind != target::StopEvent::Kind::kNoResumed) last_stop_ = out.stop;
  if (stop.kind == target::StopEvent::Kind::kExited) {
    fmt::print(stderr, "\nChild exited with status {}\n", stop.exit_code);
  } else if (stop.kind == target::StopEvent::Kind::kTerminated) {
    fmt::print(stderr, "\nChild terminated with signal = {:#x} ({})\n", stop.signal,
               sigabbrev_np(stop.signal) ? sigabbrev_np(stop.signal) : "?");
  }
  return out;
}

bool TracedProgram::condition_false(const target::StopEvent& stop) {
  if (stop.kind != target::StopEvent::Kind::kBreakpoint || agents_.empty()) return false;
  // A step the client asked for must end in a report; a resume that left threads stopped
  // cannot be redone as "continue all". Only a plain continue of every thread is redone.
  if (!continued_all_) return false;
  const auto pc = process_->read_pc(stop.tid);
  return pc && hit_passes(stop.tid, *pc);
}

bool TracedProgram::hit_passes(pid_t tid, std::uint64_t pc) {
  if (go_->catches().contains(pc)) return false;
  const auto found = agents_.find(pc);
  if (found == agents_.end()) return only_a_tracepoint_at(pc);
  const auto& agent = found->second;
  std::string printed;
  const StoppedThread context(
      *process_, tid, [this, tid] { return goroutine_identity(ClientThread::os_thread(tid)); },
      &printed);
  // The hit counts when any condition is true, or cannot be evaluated (reported then, as a true
  // one is); with no condition, always.
  bool counts = agent.conditions.empty();
  for (const auto& condition : agent.conditions) {
    const auto value = condition.evaluate(context);
    if (!value) {
      debug_log().print(DebugLog::Component::kThreads, "condition at {:#x}: {}", pc, value.error());
    }
    if (!value || *value != 0) {
      counts = true;
      break;
    }
  }
  if (!counts) return true;
  if (agent.commands.empty()) return false;
  for (const auto& command : agent.commands) {
    printed.clear();
    if (auto done = command.execute(context); !done) {
      printed += fmt::format("gostub: dprintf at {:#x}: {}\n", pc, done.error());
    }
    if (!printed.empty()) agent_output_.add(printed);
  }
  return true;
}

void TracedProgram::collect_trace(pid_t tid, std::uint64_t pc) {
  if (!trace_.running() || !trace_breakpoints_.contains(pc)) return;
  const StoppedThread thread(
      *process_, tid, [this, tid] { return goroutine_identity(ClientThread::os_thread(tid)); });
  trace_.hit(pc, thread, [this, tid]() -> std::optional<std::string> {
    auto file = process_->read_registers(tid);
    if (!file) return std::nullopt;
    return std::move(*file);
  });
}

bool TracedProgram::only_a_tracepoint_at(std::uint64_t pc) const {
  // A tracepoint's own breakpoint, and nobody else's: no client breakpoint, no catch point.
  return trace_breakpoints_.contains(pc) && !go_->catches().contains(pc) &&
         !process_->has_breakpoint(pc, target::Process::BreakpointOwner::kClient);
}

bool TracedProgram::tracepoint_only(const target::StopEvent& stop) {
  if (stop.kind != target::StopEvent::Kind::kBreakpoint || trace_breakpoints_.empty()) {
    return false;
  }
  const auto pc = process_->read_pc(stop.tid);
  return pc && only_a_tracepoint_at(*pc);
}

target::Result<void> TracedProgram::start_tracing() {
  if (trace_.addresses().empty()) return target::fail(EINVAL, "no tracepoints to trace");
  trace_.start();
  if (auto updated = update_tracing(); !updated) {
    trace_.stop(Trace::StopReason::kCommand);
    remove_trace_breakpoints();
    return updated;
  }
  return {};
}

target::Result<void> TracedProgram::update_tracing() {
  if (!trace_.running()) return {};
  using Owner = target::Process::BreakpointOwner;
  const auto wanted = trace_.addresses();
  for (auto it = trace_breakpoints_.begin(); it != trace_breakpoints_.end();) {
    if (std::find(wanted.begin(), wanted.end(), *it) == wanted.end()) {
      (void)process_->remove_breakpoint(*it, Owner::kServer);
      it = trace_breakpoints_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto address : wanted) {
    // A catch point's breakpoint there already is gostub's: it is shared, never removed here.
    if (trace_breakpoints_.contains(address) || go_->catches().contains(address)) continue;
    if (auto inserted = process_->insert_breakpoint(address, Owner::kServer); !inserted) {
      return inserted;
    }
    trace_breakpoints_.insert(address);
  }
  if (!process_->displaced_stepping_ready()) {
    // Now, while the program is stopped; without it hits are passed by stopping all threads.
    if (auto prepared = process_->prepare_displaced_stepping(); !prepared) {
      debug_log().print(DebugLog::Component::kThreads, "no displaced stepping: {}",
                        prepared.error().message);
    }
  }
  return {};
}

void TracedProgram::stop_tracing(Trace::StopReason reason) {
  trace_.stop(reason);
  remove_trace_breakpoints();
}

void TracedProgram::remove_trace_breakpoints() {
  if (process_->alive()) {
    for (const auto address : trace_breakpoints_) {
      (void)process_->remove_breakpoint(address, target::Process::BreakpointOwner::kServer);
    }
  }
  trace_breakpoints_.clear();
}

// Read from DWARF (runtime.sched's type), memory only, so nothing is stopped to look.
std::optional<StopTheWorld> TracedProgram::stop_the_world() {
  if (!process_->alive()) return std::nullopt;
  const auto wait = go_->scheduler_wait();
  if (!wait) return std::nullopt;
  std::uint32_t waiting = 0;         // a bool before Go 1.20, an atomic.Bool's uint32 since
  std::int32_t left = 0;             // Ps not stopped yet
  std::int32_t safe_point_left = 0;  // Ps that have not run forEachP's function yet
  const auto read = [&](std::uint64_t address, auto& value) {
    return process_->read_memory_into(address,
                                      std::span(reinterpret_cast<char*>(&value), sizeof value));
  };
  if (!read(wait->gcwaiting, waiting) || !read(wait->stopwait, left) ||
      !read(wait->safe_point_wait, safe_point_left)) {
    return std::nullopt;
  }
  StopTheWorld world{.waiting = ((waiting & 0xff) != 0 && left > 0) || safe_point_left > 0,
                     .held_by = {}};
  if (!world.waiting) return world;
  for (const pid_t tid : process_->threads()) {
    if (process_->thread_running(tid)) continue;
    const auto identity = goroutine_identity(ClientThread::os_thread(tid));
    if (identity.goid == 0) continue;  // idle (on g0): it holds no P
    world.held_by.push_back(fmt::format("LWP {} (goroutine {})", tid, identity.goid));
  }
  return world;
}

std::string describe(const StopTheWorld& world) {
  if (!world.waiting) return "gostub: no stop-the-world is waiting.\n";
  if (world.held_by.empty()) {
    return "gostub: Go's garbage collector stops the world and waits, for no thread the "
           "debugger stopped (a goroutine that does not yield, or it is about to end).\n";
  }
  return fmt::format(
      "gostub: Go's garbage collector stops the world and waits for {}, stopped by the "
      "debugger: every other goroutine is held until it runs. Resume it (`thread N` and "
      "`continue &`) or `continue -a`.\n",
      fmt::join(world.held_by, ", "));
}

HitCounters TracedProgram::hit_counters() const {
  const auto& passes = process_->pass_counters();
  return {passes.in_place, passes.stopping_all, agent_output_.dropped()};
}

target::Result<std::unique_ptr<Program>> TracedProgramFactory::launch(
    const target::LaunchOptions& options) {
  auto launched = target::Process::launch(options);
  if (!launched) return std::unexpected(launched.error());
  return adopt(std::move(*launched));
}

target::Result<std::unique_ptr<Program>> TracedProgramFactory::attach(pid_t pid) {
  auto attached = target::Process::attach(pid);
  if (!attached) return std::unexpected(attached.error());
  return adopt(std::move(*attached));
}

std::unique_ptr<Program> TracedProgram::take_fork_child(pid_t held) {
  auto child = process_->take_fork_child(held);
  if (!child) return nullptr;
  auto program = std::make_unique<TracedProgram>(std::move(child), go_->settings());
  // The child stopped in the fork, as its parent did: gdb reads its registers, nothing more.
  program->last_stop_ =
      target::StopEvent{target::StopEvent::Kind::kSignal, program->pid(), SIGTRAP, 0};
  program->resumed_yet_ = true;
  return program;
}

std::unique_ptr<Program> TracedProgramFactory::adopt(
    std::unique_ptr<target::Process> process) const {
  return std::make_unique<TracedProgram>(std::move(process), settings_);
}

}  // namespace gostub::server
