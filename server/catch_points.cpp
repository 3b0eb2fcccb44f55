// gostub's own stops: unrecovered panics and fatal errors, caught before the runtime prints
// them and exits, with the stack that explains them still there (as Delve does). Breakpoints
// on runtime functions found through pclntab, so stripped binaries are covered too.
#include <fmt/core.h>

#include <csignal>

#include "server/go_state.hpp"
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

void CatchPoints::apply() {
  std::string why_not;
  const auto* binary = go_.binary(why_not);
  if (binary == nullptr || !process_.alive()) return;
  const auto bias = go_.load_bias();
  const struct {
    const char* function;
    Kind kind;
    bool wanted;
  } points[] = {
      {"runtime.fatalpanic", Kind::kPanic, settings_.panic},
      {"runtime.throw", Kind::kFatalError, settings_.fatal_error},
      {"runtime.fatal", Kind::kFatalError, settings_.fatal_error},  // Go 1.20+
      {"runtime.gopanic", Kind::kRecoveredPanic, settings_.recovered_panic},
  };
  for (const auto& point : points) {
    const auto function = binary->lines().find_by_name(point.function);
    if (!function) continue;
    const auto address = past_stack_check(binary->lines(), *function) + bias;
    if (point.wanted) {
      if (process_.insert_breakpoint(address, Owner::kServer)) points_[address] = point.kind;
    } else if (points_.erase(address) > 0) {
      (void)process_.remove_breakpoint(address, Owner::kServer);
    }
  }
}

target::StopEvent CatchPoints::translate(const target::StopEvent& stop, std::string& message) {
  if (stop.kind != target::StopEvent::Kind::kBreakpoint) return stop;
  const auto pc = process_.read_pc(stop.tid);
  if (!pc) return stop;
  const auto point = points_.find(*pc);
  if (point == points_.end()) return stop;
  const auto* runtime_reader = go_.runtime();
  const auto registers = process_.read_general_registers(stop.tid);
  if (runtime_reader != nullptr && registers) {
    const auto& runtime = *runtime_reader;
    const auto& memory = go_.memory();
    // ABIInternal (Go 1.17+ on amd64): arguments in RAX, RBX, …; the current g in R14.
    const auto goroutine =
        runtime.goroutine_id(memory, target::register_value(*registers, target::regno::kR14));
    const auto who = goroutine && *goroutine > 0 ? fmt::format("goroutine {}", *goroutine)
                                                 : std::string("the runtime (g0)");
    const auto first = target::register_value(*registers, target::regno::kRax);
    const auto second = target::register_value(*registers, target::regno::kRbx);
    switch (point->second) {
      case Kind::kPanic:  // fatalpanic(msgs *_panic)
        message = fmt::format("gostub: {} panicked: {}\n", who, runtime.panic_value(memory, first));
        break;
      case Kind::kFatalError:  // throw(s string), fatal(s string)
        message = fmt::format("gostub: {} hit a fatal error: {}\n", who,
                              runtime.go_string(memory, first, second).value_or("?"));
        break;
      case Kind::kRecoveredPanic:  // gopanic(e any)
        message = fmt::format("gostub: {} panics (it may recover): {}\n", who,
                              runtime.interface_value(memory, first, second));
        break;
    }
  }
  // The client's own breakpoint at the same place is reported as such.
  if (process_.has_breakpoint(*pc, Owner::kClient)) return stop;
  return target::StopEvent{target::StopEvent::Kind::kSignal, stop.tid, SIGTRAP, 0};
}

}  // namespace gostub::server
