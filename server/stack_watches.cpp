#include "server/stack_watches.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace gostub::server {

void StackWatches::note(std::uint64_t address, const std::vector<symbols::Goroutine>& goroutines) {
  for (const auto& goroutine : goroutines) {
    if (address >= goroutine.stack_lo && address < goroutine.stack_hi) {
      watches_.push_back({address, goroutine.id, goroutine.stack_lo, goroutine.stack_hi, false});
      return;
    }
  }
}

void StackWatches::forget(std::uint64_t address) {
  std::erase_if(watches_, [&](const Watch& watch) { return watch.address == address; });
}

std::string StackWatches::check(const std::vector<symbols::Goroutine>& goroutines) {
  std::string notice;
  for (auto& watch : watches_) {
    if (watch.told) continue;
    const auto found = std::find_if(goroutines.begin(), goroutines.end(),
                                    [&](const auto& g) { return g.id == watch.goroutine; });
    if (found == goroutines.end()) {
      watch.told = true;
      notice += fmt::format(
          "gostub: goroutine {} has exited; the watchpoint at {:#x} watches its freed stack.\n",
          watch.goroutine, watch.address);
      continue;
    }
    if (found->stack_hi == watch.stack_hi) continue;
    // copystack keeps each byte's distance from the top of the stack.
    const auto moved = watch.address - watch.stack_hi + found->stack_hi;
    watch.told = true;
    notice += fmt::format(
        "gostub: the Go runtime moved goroutine {}'s stack ([{:#x}, {:#x}) -> [{:#x}, {:#x})): "
        "the watchpoint at {:#x} still watches the old copy, which is freed memory; the "
        "variable is now at {:#x} (watch it there: watch -l *(TYPE *){:#x}).\n",
        watch.goroutine, watch.stack_lo, watch.stack_hi, found->stack_lo, found->stack_hi,
        watch.address, moved, moved);
  }
  return notice;
}

}  // namespace gostub::server
