// Hardware breakpoints and watchpoints through the x86-64 debug registers: DR0-DR3 hold
// addresses, DR7 enables them and says what each watches (execute, write, read/write) and how
// many bytes, DR6 says which fired.
//
// The slots belong to the process, but Linux keeps them per thread (a new thread starts with
// none): the engine writes the slots to a thread before it resumes it whenever they changed
// since that thread last got them, which covers threads born later.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "target/error.hpp"

namespace gostub::target {

enum class HardwareKind : std::uint8_t {
  kExecute,  // a hardware breakpoint (Z1)
  kWrite,    // Z2
  kRead,     // Z3: x86 has no read-only watch; the slot watches reads and writes
  kAccess,   // Z4
};

// Whether this machine delivers debug-register traps. Some virtual machines accept the
// registers and never trap (a hardware breakpoint or watchpoint then never fires, under
// gdbserver too). Found out once per gostub, by a forked child with a hardware breakpoint on
// a function it then calls; anything inconclusive counts as delivered.
bool debug_traps_delivered();

// One aligned piece of a watched range: what one debug register can watch.
struct AlignedRange {
  std::uint64_t address;
  std::uint32_t length;  // 1, 2, 4 or 8, and `address` is a multiple of it
  bool operator==(const AlignedRange&) const = default;
};

// Splits [address, address + length) into the pieces gdb's x86 code uses: from the start, the
// longest piece (up to 8 bytes) that both fits in what is left and is aligned to its length.
std::vector<AlignedRange> split_watch_range(std::uint64_t address, std::uint64_t length);

// The 4-bit RW/LEN field of DR7 for one slot.
std::uint32_t dr7_field(HardwareKind kind, std::uint32_t length);

// A debug register that fired.
struct HardwareHit {
  HardwareKind kind;
  int slot;
  std::uint64_t address;  // the slot's address (for a split range, the piece that fired)
};

// The process's slots, shared by reference count as gdb does: two requests for the same
// aligned piece of the same kind use one slot. Pure bookkeeping; no system calls.
class DebugRegisterState {
 public:
  static constexpr int kSlots = 4;

  // All or nothing: false when the pieces do not fit in the free slots (or the range is
  // empty or wraps).
  bool insert(HardwareKind kind, std::uint64_t address, std::uint64_t length);
  // False when no such request was inserted.
  bool remove(HardwareKind kind, std::uint64_t address, std::uint64_t length);
  // Whether some request of `kind` still covers `address` (a pending hit of a removed
  // watchpoint is no reason to stop).
  bool covers(HardwareKind kind, std::uint64_t address) const;

  bool empty() const;
  std::uint64_t address(int slot) const { return slots_[slot].address; }
  bool in_use(int slot) const { return slots_[slot].references > 0; }
  // DR7 as it should be: local enable bits, RW/LEN fields, and the local-exact (LE) bit.
  std::uint64_t dr7() const;
  // The slot DR6 names, preferring a watchpoint to a breakpoint (as gdbserver reports a data
  // hit first); among watchpoints, the highest slot, as gdb's x86 code does.
  std::optional<HardwareHit> hit(std::uint64_t dr6) const;

 private:
  struct Slot {
    std::uint64_t address = 0;
    std::uint32_t length = 0;
    HardwareKind kind = HardwareKind::kExecute;
    int references = 0;
  };
  bool insert_aligned(HardwareKind kind, const AlignedRange& range);
  bool remove_aligned(HardwareKind kind, const AlignedRange& range);
  std::array<Slot, kSlots> slots_{};
};

// The slots as the engine keeps them: the state above, and which state each thread has.
class DebugRegisters {
 public:
  Result<void> insert(HardwareKind kind, std::uint64_t address, std::uint64_t length);
  Result<void> remove(HardwareKind kind, std::uint64_t address, std::uint64_t length);
  const DebugRegisterState& state() const { return state_; }

  // Writes the slots to a stopped thread when they changed since it last got them.
  Result<void> sync(pid_t tid);
  // At a SIGTRAP: which slot fired, from the thread's DR6 (cleared when it names one).
  std::optional<HardwareHit> take_hit(pid_t tid);
  // The thread is gone, or (exec) every thread must get the slots again.
  void forget(pid_t tid) { applied_.erase(tid); }
  void forget_all() { applied_.clear(); }
  // Before detaching: the thread's debug registers off.
  void release(pid_t tid);

 private:
  DebugRegisterState state_;
  std::uint64_t generation_ = 1;  // bumped at every change
  std::map<pid_t, std::uint64_t> applied_;
};

}  // namespace gostub::target
