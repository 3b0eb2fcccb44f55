// The goroutines of a live Go process, read from the runtime's own data (runtime.allgs) through
// a MemoryReader, and their stacks unwound from pclntab alone (pcsp), so that both work on
// stripped binaries. Layouts are tables keyed by the Go version, checked in the tests against
// each toolchain's DWARF (runtime.g, runtime.gobuf, runtime.m).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "symbols/go_binary.hpp"
#include "symbols/go_runtime.hpp"

namespace gostub::symbols {

// runtime/runtime2.go's _G* values, the scan bit (0x1000) removed.
enum class GoroutineStatus : std::uint32_t {
  kIdle = 0,
  kRunnable = 1,
  kRunning = 2,
  kSyscall = 3,
  kWaiting = 4,
  kMoribund = 5,
  kDead = 6,
  kEnqueue = 7,
  kCopystack = 8,
  kPreempted = 9,
};
std::string_view status_name(GoroutineStatus status);  // as runtime.Stack prints it

struct Goroutine {
  std::uint64_t g = 0;  // the runtime.g's address
  std::int64_t id = 0;
  GoroutineStatus status = GoroutineStatus::kIdle;
  std::uint8_t wait_reason = 0;
  std::int64_t wait_since = 0;           // nanotime when it blocked, when known
  std::uint64_t pc = 0, sp = 0, bp = 0;  // where it is: see Goroutines::read()
  std::uint64_t stack_lo = 0, stack_hi = 0;
  std::uint64_t start_pc = 0;    // the function the go statement started
  std::uint64_t creator_pc = 0;  // the go statement's return address (g.gopc)
  std::uint64_t m = 0;           // the runtime.m running it, 0 when none
  std::int64_t thread = 0;       // that m's OS thread (m.procid), 0 when none
  std::uint64_t labels = 0;      // pprof labels (a map[string]string), 0 when none
};

// What a thread stopped at, for the goroutine it runs.
struct ThreadContext {
  std::int64_t thread;
  std::uint64_t fs_base, pc, sp, bp;
};

struct StackFrame {
  std::uint64_t pc;  // runtime address; for an outer frame, the return address
  std::uint64_t sp;
  std::string_view function;  // "?" when pc is in no Go function
  std::optional<SourceLine> line;
  bool inlined;
};

class Goroutines {
 public:
  // `load_bias`: runtime address minus link-time address (a PIE's load address).
  Goroutines(const GoBinary& binary, std::uint64_t load_bias);

  const RuntimeLayout& layout() const { return runtime_.layout(); }
  // The reader of single runtime values (goroutine ids, panic values) these are built on.
  const GoRuntime& runtime() const { return runtime_; }

  // Where runtime.allgs lives (link-time address): the symbol table's answer, else the slice
  // that runtime.allGsSnapshot or runtime.forEachG loads (decoded with Capstone). Candidates
  // come in preference order; read() keeps the first whose contents look like goroutines.
  struct Candidate {
    std::uint64_t address;
    std::string found_by;  // "qSymbol", "symbol", "code: runtime.allGsSnapshot"
  };
  std::vector<Candidate> allgs_candidates() const;
  // An address the client told us (qSymbol), link-time; tried before the others.
  void set_allgs_address(std::uint64_t address) { told_allgs_ = address; }
  // Which candidate read() settled on: "runtime.allgs 0x… (how)"; empty before.
  std::string allgs_description() const;

  // Every goroutine that is not dead, in allgs order. `threads` are the stopped threads: the
  // goroutine a thread runs takes that thread's registers (its g.sched is stale while it runs).
  Result<std::vector<Goroutine>> read(const MemoryReader& memory,
                                      std::span<const ThreadContext> threads) const;

  // The call stack from (pc, sp), innermost first, with inlined calls as frames of their own;
  // stops at the goroutine's first function, at `limit` frames, or where pclntab cannot go on.
  std::vector<StackFrame> stack(const MemoryReader& memory, std::uint64_t pc, std::uint64_t sp,
                                std::size_t limit = 1024) const;

  // The wait reason as the runtime prints it: from the binary's runtime.waitReasonStrings
  // when it has the symbol, else from the table for its Go version.
  std::string wait_reason(std::uint8_t reason) const;
  // A system goroutine as runtime.Stack sees it: started in package runtime (not
  // runtime.main), so hidden from tracebacks unless GOTRACEBACK=system.
  bool is_system(const Goroutine& goroutine) const;
  std::size_t wait_reason_count() const { return wait_reasons_.size(); }
  // pprof labels as "k=v k2=v2", sorted; empty when none or unreadable.
  std::string labels(const MemoryReader& memory, const Goroutine& goroutine) const;
  // The function named at a runtime pc, "?" when none.
  std::string_view function_at(std::uint64_t pc) const;

 private:
  std::optional<std::uint64_t> allgs_from_code(std::string_view function) const;
  bool plausible_allgs(const MemoryReader& memory, std::uint64_t address) const;

  const GoBinary& binary_;
  std::uint64_t load_bias_;
  GoRuntime runtime_;
  const RuntimeLayout& layout_;
  std::optional<std::uint64_t> told_allgs_;
  mutable std::optional<std::uint64_t> allgs_;  // the runtime address that worked
  mutable std::string allgs_found_by_;
  std::vector<std::string> wait_reasons_;
};

}  // namespace gostub::symbols
