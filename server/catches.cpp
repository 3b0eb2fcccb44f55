// gostub's own stops: unrecovered panics and fatal errors, caught before the runtime prints
// them and exits, with the stack that explains them still there (as Delve does). Breakpoints
// on runtime functions found through pclntab, so stripped binaries are covered too.
#include <fmt/core.h>

#include <csignal>
#include <cstring>

#include "server/gdb_session.hpp"
#include "server/process_memory.hpp"
#include "symbols/go_runtime.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

using Owner = target::Process::BreakpointOwner;

// A Go function's first instructions compare the stack pointer with the goroutine's stack
// bound and, when the stack must grow, call morestack, which restarts the function from its
// entry: a breakpoint there can be hit twice for one call. The first instruction after the
// check is where the frame is made (pcsp turns positive); the argument registers and R14 are
// untouched by then.
std::uint64_t past_stack_check(const symbols::LineTable& lines,
                               const symbols::LineTable::Function& function) {
  constexpr std::uint64_t kPrologueScan = 64;
  for (auto pc = function.entry; pc < function.end && pc < function.entry + kPrologueScan; ++pc) {
    if (const auto delta = lines.stack_delta(pc); delta && *delta > 0) return pc;
  }
  return function.entry;  // no frame: no stack check either
}

}  // namespace

void GdbSession::apply_catches() {
  std::string why_not;
  const auto* binary = go_binary(why_not);
  if (binary == nullptr || !process_->alive()) return;
  const auto bias = load_bias();
  const struct {
    const char* function;
    CatchKind kind;
    bool wanted;
  } points[] = {
      {"runtime.fatalpanic", CatchKind::kPanic, settings_.panic},
      {"runtime.throw", CatchKind::kFatalError, settings_.fatal_error},
      {"runtime.fatal", CatchKind::kFatalError, settings_.fatal_error},  // Go 1.20+
      {"runtime.gopanic", CatchKind::kRecoveredPanic, settings_.recovered_panic},
  };
  for (const auto& point : points) {
    const auto function = binary->lines().find_by_name(point.function);
    if (!function) continue;
    const auto address = past_stack_check(binary->lines(), *function) + bias;
    if (point.wanted) {
      if (process_->insert_breakpoint(address, Owner::kServer)) catch_points_[address] = point.kind;
    } else if (catch_points_.erase(address) > 0) {
      (void)process_->remove_breakpoint(address, Owner::kServer);
    }
  }
}

target::StopEvent GdbSession::translate_catch(const target::StopEvent& stop) {
  if (stop.kind != target::StopEvent::Kind::kBreakpoint) return stop;
  const auto pc = process_->read_pc(stop.tid);
  if (!pc) return stop;
  const auto point = catch_points_.find(*pc);
  if (point == catch_points_.end()) return stop;
  const auto* runtime_reader = go_runtime();
  const auto registers = process_->read_general_registers(stop.tid);
  if (runtime_reader != nullptr && registers) {
    const auto& runtime = *runtime_reader;
    const ProcessMemory memory(*process_);
    // ABIInternal (Go 1.17+ on amd64): arguments in RAX, RBX, …; the current g in R14.
    const auto goroutine =
        runtime.goroutine_id(memory, target::register_value(*registers, target::regno::kR14));
    const auto who = goroutine && *goroutine > 0 ? fmt::format("goroutine {}", *goroutine)
                                                 : std::string("the runtime (g0)");
    const auto first = target::register_value(*registers, target::regno::kRax);
    const auto second = target::register_value(*registers, target::regno::kRbx);
    std::string message;
    switch (point->second) {
      case CatchKind::kPanic:  // fatalpanic(msgs *_panic)
        message = fmt::format("gostub: {} panicked: {}\n", who, runtime.panic_value(memory, first));
        break;
      case CatchKind::kFatalError:  // throw(s string), fatal(s string)
        message = fmt::format("gostub: {} hit a fatal error: {}\n", who,
                              runtime.go_string(memory, first, second).value_or("?"));
        break;
      case CatchKind::kRecoveredPanic:  // gopanic(e any)
        message = fmt::format("gostub: {} panics (it may recover): {}\n", who,
                              runtime.interface_value(memory, first, second));
        break;
    }
    if (resume_outstanding_) send_console(message);
    if (log_packets_) fmt::print(stderr, "{}", message);
  }
  // The client's own breakpoint at the same place is reported as such.
  if (process_->has_breakpoint(*pc, Owner::kClient)) return stop;
  return target::StopEvent{target::StopEvent::Kind::kSignal, stop.tid, SIGTRAP, 0};
}

std::string GdbSession::monitor_catch(std::string_view arguments) {
  while (!arguments.empty() && arguments.front() == ' ') arguments.remove_prefix(1);
  if (!arguments.empty()) {
    const auto space = arguments.find(' ');
    const auto what = arguments.substr(0, space);
    const auto value =
        space == std::string_view::npos ? std::string_view{} : arguments.substr(space + 1);
    bool* setting = what == "panic"             ? &settings_.panic
                    : what == "throw"           ? &settings_.fatal_error
                    : what == "recovered-panic" ? &settings_.recovered_panic
                                                : nullptr;
    if (setting == nullptr || (value != "on" && value != "off")) {
      return "usage: monitor catch [panic|throw|recovered-panic on|off]\n";
    }
    *setting = value == "on";
    apply_catches();
  }
  const auto state = [](bool on) { return on ? "on" : "off"; };
  return fmt::format("catch panic {}\ncatch throw {}\ncatch recovered-panic {}\n",
                     state(settings_.panic), state(settings_.fatal_error),
                     state(settings_.recovered_panic));
}

}  // namespace gostub::server
