// Watched addresses on goroutine stacks. The Go runtime moves a goroutine's stack when it
// grows (copystack), keeping each byte's distance from the top; a debug register cannot
// follow, and the client would read the old copy to compare values. So a watched address on a
// goroutine's stack is remembered with that stack's bounds, and at the next stop after the
// runtime moved it (or the goroutine ended) the user is told where the variable went.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "symbols/goroutines.hpp"

namespace gostub::server {

class StackWatches {
 public:
  // A watch at `address` began; `goroutines` is this stop's list.
  void note(std::uint64_t address, const std::vector<symbols::Goroutine>& goroutines);
  void forget(std::uint64_t address);
  bool empty() const { return watches_.empty(); }
  // What to tell the user at this stop ("" when nothing moved); each move is told once.
  std::string check(const std::vector<symbols::Goroutine>& goroutines);

 private:
  struct Watch {
    std::uint64_t address;
    std::int64_t goroutine;
    std::uint64_t stack_lo, stack_hi;
    bool told;
  };
  std::vector<Watch> watches_;
};

}  // namespace gostub::server
