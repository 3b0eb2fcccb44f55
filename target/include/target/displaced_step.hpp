// Displaced stepping: a thread that hit a breakpoint nobody needs to see runs a relocated copy
// of the instruction under the breakpoint in a scratch area of the program, and jumps back,
// while every other thread keeps running (gdb's amd64 displaced stepping is the model, with one
// difference: the copy ends in a jump back instead of a single-step and a fixup, so passing a
// hit costs one ptrace stop, not two).
//
// Why a jump back makes slots shareable: the relocated code depends only on the breakpoint's
// address and the slot's, never on the thread, so one slot per breakpoint address serves every
// thread at once, and a slot is written once and never changed (a thread preempted inside it,
// or a signal frame returning into it, still finds the same code).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>

#include "target/error.hpp"

namespace gostub::target {

// Room for the longest relocation: a 15-byte instruction and a 14-byte absolute jump back.
inline constexpr std::size_t kDisplacedSlotSize = 32;

// The code that, run at `slot`, does what `instruction` (the bytes at `from`, at least the
// whole instruction; more is fine) would have done at `from`, then continues where the original
// would have. Control flow: relative jumps and calls are re-aimed at their original targets,
// a call pushes the original's return address, a rip-relative operand is re-based. An error
// for what cannot run elsewhere (system calls, traps, far transfers, an operand out of reach).
Result<std::string> relocate_instruction(std::span<const std::uint8_t> instruction,
                                         std::uint64_t from, std::uint64_t slot);

// The scratch area (mapped in the program by its owner) cut into slots, one per breakpoint
// address, and where a pc inside the area came from.
class DisplacedSlots {
 public:
  bool has_area() const { return area_size_ != 0; }
  std::uint64_t area_start() const { return area_start_; }
  void set_area(std::uint64_t start, std::uint64_t size) {
    area_start_ = start;
    area_size_ = size;
  }
  bool contains(std::uint64_t pc) const {
    return pc >= area_start_ && pc < area_start_ + area_size_;
  }
  // The slot already made for breakpoint `address`, if any.
  std::optional<std::uint64_t> slot_of(std::uint64_t address) const;
  // Whether `address` was found unrelocatable before (so it is not decoded at every hit).
  bool refused(std::uint64_t address) const { return refused_.contains(address); }
  void refuse(std::uint64_t address) { refused_.insert(address); }
  // The next free slot, nullopt when the area is full.
  std::optional<std::uint64_t> next_free() const;
  void assign(std::uint64_t address, std::uint64_t slot);
  // The breakpoint address whose slot starts at `pc` (a thread about to run the copy).
  std::optional<std::uint64_t> original_at_slot_start(std::uint64_t pc) const;
  // Forgets every slot (the program exec'd: the area is gone).
  void reset() { *this = DisplacedSlots(); }

 private:
  std::uint64_t area_start_ = 0, area_size_ = 0;
  std::map<std::uint64_t, std::uint64_t> slots_;      // breakpoint address -> slot
  std::map<std::uint64_t, std::uint64_t> originals_;  // slot -> breakpoint address
  std::set<std::uint64_t> refused_;
};

}  // namespace gostub::target
