#include "target/debug_registers.hpp"

#include <fmt/format.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <csignal>
#include <cstddef>

namespace gostub::target {

namespace {

constexpr std::uint32_t kMaxPiece = 8;  // DR7's LEN field goes up to 8 bytes on x86-64

// DR7 (Intel SDM vol. 3, 18.2.4): two enable bits per slot from bit 0, a 4-bit RW/LEN field
// per slot from bit 16; bit 8 (LE) asks for exact data breakpoints.
constexpr unsigned kControlShift = 16;
constexpr unsigned kControlSize = 4;
constexpr unsigned kEnableSize = 2;
constexpr std::uint64_t kLocalExact = 0x100;

// RW: 00 execute, 01 write, 11 read or write (10 is I/O, unused).
std::uint32_t rw_bits(HardwareKind kind) {
  switch (kind) {
    case HardwareKind::kExecute:
      return 0;
    case HardwareKind::kWrite:
      return 1;
    case HardwareKind::kRead:
    case HardwareKind::kAccess:
      return 3;
  }
  return 0;
}

// LEN: 00 one byte, 01 two, 11 four, 10 eight.
std::uint32_t len_bits(std::uint32_t length) {
  switch (length) {
    case 2:
      return 1;
    case 4:
      return 3;
    case 8:
      return 2;
    default:
      return 0;
  }
}

long ptrace_call(int request, pid_t tid, std::uintptr_t address = 0, std::uintptr_t data = 0) {
  return ::ptrace(static_cast<enum __ptrace_request>(request), tid, address, data);
}

std::uintptr_t debug_register_offset(int index) {
  return offsetof(struct user, u_debugreg) + static_cast<std::size_t>(index) * sizeof(long);
}

// The probe's child runs this under a hardware breakpoint (same address in the child: fork).
[[gnu::noinline]] void trap_probe_target() {
  asm volatile("");
}

bool probe_debug_traps() {
  const pid_t child = ::fork();
  if (child < 0) return true;
  if (child == 0) {
    ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    ::raise(SIGSTOP);
    trap_probe_target();
    ::_exit(0);
  }
  int status = 0;
  bool delivered = true;
  if (::waitpid(child, &status, __WALL) == child && WIFSTOPPED(status) &&
      ptrace_call(PTRACE_POKEUSER, child, debug_register_offset(0),
                  reinterpret_cast<std::uintptr_t>(&trap_probe_target)) == 0 &&
      ptrace_call(PTRACE_POKEUSER, child, debug_register_offset(7), 1) == 0 &&
      ptrace_call(PTRACE_CONT, child) == 0 && ::waitpid(child, &status, __WALL) == child) {
    // Ran to its end past the breakpoint: the registers took the address, the trap never came.
    delivered = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  if (!WIFEXITED(status) && !WIFSIGNALED(status)) {  // not reaped yet
    ::kill(child, SIGKILL);
    while (::waitpid(child, &status, __WALL) == child && !WIFEXITED(status) &&
           !WIFSIGNALED(status)) {
    }
  }
  return delivered;
}

}  // namespace

bool debug_traps_delivered() {
  static const bool delivered = probe_debug_traps();
  return delivered;
}

std::vector<AlignedRange> split_watch_range(std::uint64_t address, std::uint64_t length) {
  std::vector<AlignedRange> pieces;
  while (length > 0) {
    // The largest power of two not above what is left (capped at 8) that the address is a
    // multiple of.
    std::uint32_t size =
        static_cast<std::uint32_t>(std::bit_floor(std::min<std::uint64_t>(length, kMaxPiece)));
    while (address % size != 0) size /= 2;
    pieces.push_back({address, size});
    address += size;
    length -= size;
  }
  return pieces;
}

std::uint32_t dr7_field(HardwareKind kind, std::uint32_t length) {
  return len_bits(length) << 2 | rw_bits(kind);
}

bool DebugRegisterState::insert_aligned(HardwareKind kind, const AlignedRange& range) {
  for (auto& slot : slots_) {
    if (slot.references > 0 && slot.kind == kind && slot.address == range.address &&
        slot.length == range.length) {
      ++slot.references;
      return true;
    }
  }
  for (auto& slot : slots_) {
    if (slot.references == 0) {
      slot = Slot{range.address, range.length, kind, 1};
      return true;
    }
  }
  return false;
}

bool DebugRegisterState::remove_aligned(HardwareKind kind, const AlignedRange& range) {
  for (auto& slot : slots_) {
    if (slot.references > 0 && slot.kind == kind && slot.address == range.address &&
        slot.length == range.length) {
      if (--slot.references == 0) slot = Slot{};
      return true;
    }
  }
  return false;
}

bool DebugRegisterState::insert(HardwareKind kind, std::uint64_t address, std::uint64_t length) {
  if (length == 0 || address + length < address) return false;
  auto copy = *this;  // all or nothing
  for (const auto& piece : split_watch_range(address, length)) {
    if (!copy.insert_aligned(kind, piece)) return false;
  }
  *this = copy;
  return true;
}

bool DebugRegisterState::remove(HardwareKind kind, std::uint64_t address, std::uint64_t length) {
  if (length == 0 || address + length < address) return false;
  auto copy = *this;
  for (const auto& piece : split_watch_range(address, length)) {
    if (!copy.remove_aligned(kind, piece)) return false;
  }
  *this = copy;
  return true;
}

bool DebugRegisterState::covers(HardwareKind kind, std::uint64_t address) const {
  for (const auto& slot : slots_) {
    if (slot.references > 0 && slot.kind == kind && address >= slot.address &&
        address < slot.address + slot.length) {
      return true;
    }
  }
  return false;
}

bool DebugRegisterState::empty() const {
  for (const auto& slot : slots_) {
    if (slot.references > 0) return false;
  }
  return true;
}

std::uint64_t DebugRegisterState::dr7() const {
  std::uint64_t value = 0;
  for (int i = 0; i < kSlots; ++i) {
    const auto& slot = slots_[i];
    if (slot.references == 0) continue;
    value |= std::uint64_t{1} << (kEnableSize * i);
    value |= std::uint64_t{dr7_field(slot.kind, slot.length)} << (kControlShift + kControlSize * i);
  }
  if (value != 0) value |= kLocalExact;
  return value;
}

std::optional<HardwareHit> DebugRegisterState::hit(std::uint64_t dr6) const {
  std::optional<HardwareHit> watch, execute;
  for (int i = 0; i < kSlots; ++i) {
    const auto& slot = slots_[i];
    if ((dr6 & (std::uint64_t{1} << i)) == 0 || slot.references == 0) continue;
    const HardwareHit found{slot.kind, i, slot.address};
    if (slot.kind == HardwareKind::kExecute) {
      if (!execute) execute = found;
    } else {
      watch = found;
    }
  }
  return watch ? watch : execute;
}

Result<void> DebugRegisters::insert(HardwareKind kind, std::uint64_t address,
                                    std::uint64_t length) {
  if (kind == HardwareKind::kExecute) length = 1;
  if (!state_.insert(kind, address, length)) {
    return fail(ENOSPC,
                fmt::format("no free debug register for {:#x} ({} bytes)", address, length));
  }
  ++generation_;
  return {};
}

Result<void> DebugRegisters::remove(HardwareKind kind, std::uint64_t address,
                                    std::uint64_t length) {
  if (kind == HardwareKind::kExecute) length = 1;
  if (!state_.remove(kind, address, length)) {
    return fail(ENOENT, fmt::format("no hardware point at {:#x}", address));
  }
  ++generation_;
  return {};
}

Result<void> DebugRegisters::sync(pid_t tid) {
  auto& applied = applied_[tid];
  if (applied == generation_) return {};
  const bool fresh = applied == 0;  // a thread that never had slots of ours has none
  if (fresh && state_.empty()) {
    applied = generation_;
    return {};
  }
  // Disabled first: Linux checks each address against the slot's enabled length and kind.
  if (ptrace_call(PTRACE_POKEUSER, tid, debug_register_offset(7), 0) != 0) {
    return std::unexpected(last_system_error("PTRACE_POKEUSER DR7"));
  }
  for (int i = 0; i < DebugRegisterState::kSlots; ++i) {
    if (!state_.in_use(i)) continue;
    if (ptrace_call(PTRACE_POKEUSER, tid, debug_register_offset(i), state_.address(i)) != 0) {
      return std::unexpected(last_system_error(fmt::format("PTRACE_POKEUSER DR{}", i)));
    }
  }
  if (const auto dr7 = state_.dr7(); dr7 != 0) {
    if (ptrace_call(PTRACE_POKEUSER, tid, debug_register_offset(7), dr7) != 0) {
      return std::unexpected(last_system_error("PTRACE_POKEUSER DR7"));
    }
  }
  applied = generation_;
  return {};
}

void DebugRegisters::release(pid_t tid) {
  const auto found = applied_.find(tid);
  if (found == applied_.end()) return;
  ptrace_call(PTRACE_POKEUSER, tid, debug_register_offset(7), 0);
  applied_.erase(found);
}

std::optional<HardwareHit> DebugRegisters::take_hit(pid_t tid) {
  if (state_.empty()) return std::nullopt;
  errno = 0;
  const long dr6 = ptrace_call(PTRACE_PEEKUSER, tid, debug_register_offset(6));
  if (errno != 0) return std::nullopt;
  const auto found = state_.hit(static_cast<std::uint64_t>(dr6));
  // Cleared, so that the next trap (a single-step, another slot) is not taken for this one.
  if ((dr6 & 0xf) != 0) ptrace_call(PTRACE_POKEUSER, tid, debug_register_offset(6), 0);
  return found;
}

}  // namespace gostub::target
