// Process's side of displaced stepping (target/displaced_step.hpp): the scratch area, passing
// a hit in place, and putting back a thread caught in the area when everything stops.
#include <sys/mman.h>
#include <sys/syscall.h>

#include <array>
#include <cerrno>

#include "target/process.hpp"

namespace gostub::target {

namespace {

// 2,048 slots: one per breakpoint address ever passed in place.
constexpr std::uint64_t kScratchAreaSize = 64 * 1024;

}  // namespace

Result<void> Process::prepare_displaced_stepping() {
  if (displaced_.has_area()) return {};
  if (!alive_) return fail(ESRCH, "the process is not running");
  // Near the program's text, so that a rip-relative operand re-based into a slot stays within
  // a 32-bit displacement: just below its lowest executable mapping (a static Go binary's text
  // is at 0x401000, a PIE's wherever it was loaded). The kernel takes the hint when the range is
  // free, and otherwise maps elsewhere: operands out of reach are then refused one by one.
  // Below the file's lowest mapping, not its text: a PIE's first segment (headers, read-only)
  // sits right below its text, and a hint that overlaps it is not taken (the kernel then maps
  // the area far away, out of reach of every rip-relative operand).
  std::uint64_t hint = 0;
  if (const auto regions = memory_regions()) {
    for (const auto& region : *regions) {
      if (region.name == executable_ && (hint == 0 || region.start < hint)) hint = region.start;
    }
  }
  hint = hint > kScratchAreaSize + 0x100000 ? (hint - kScratchAreaSize) & ~0xfffULL : 0;
  const auto tids = threads();
  if (tids.empty()) return fail(ESRCH, "no thread to run mmap on");
  // Read and execute only: the program cannot scribble over it; gostub writes through
  // /proc/PID/mem.
  const std::uint64_t arguments[] = {
      hint, kScratchAreaSize, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, ~0ULL, 0};
  auto mapped = inject_syscall(tids.front(), SYS_mmap, arguments);
  if (!mapped) return std::unexpected(mapped.error());
  if (*mapped < 0 && *mapped > -4096) {
    return fail(static_cast<int>(-*mapped), "mmap of the scratch area failed");
  }
  displaced_.set_area(static_cast<std::uint64_t>(*mapped), kScratchAreaSize);
  return {};
}

bool Process::pass_in_place(pid_t tid, std::uint64_t address) {
  auto slot = displaced_.slot_of(address);
  if (!slot) {
    const auto free = displaced_.has_area() && !displaced_.refused(address) ? displaced_.next_free()
                                                                            : std::nullopt;
    if (!free) return false;
    // The instruction as the program has it (our int3s shadowed), at most 15 bytes long.
    std::array<char, 16> bytes{};
    const auto got = read_memory_into(address, bytes);
    if (!got || *got == 0) return false;
    const auto code = relocate_instruction(
        std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), *got), address, *free);
    if (!code || !poke_bytes(*free, *code)) {
      displaced_.refuse(address);
      return false;
    }
    displaced_.assign(address, *free);
    slot = free;
  }
  const auto found = threads_.find(tid);
  if (found == threads_.end() || !write_pc(tid, *slot)) return false;
  found->second.maybe_in_scratch_area = true;
  resume_thread(tid, found->second, ResumeKind::kContinue, 0);
  ++pass_counters_.in_place;
  return true;
}

void Process::leave_scratch_area(pid_t reporting) {
  if (!displaced_.has_area()) return;
  // Only threads passed in place since they were last seen outside: no register read for the
  // others at every stop.
  for (auto& [tid, thread] : threads_) {
    if (!thread.maybe_in_scratch_area) continue;
    const auto pc = read_pc(tid);
    if (!pc) continue;
    thread.maybe_in_scratch_area = displaced_.contains(*pc);
    if (!thread.maybe_in_scratch_area) continue;
    // At the start of a copy: its instruction has not run, or faulted (a nil dereference, which
    // Go turns into a panic only at a pc it knows). Either way the thread is put back at the
    // breakpoint; one merely interrupted there is marked to step over it when resumed (a copy
    // half done, past its first instruction, is left to finish: it only jumps back).
    if (const auto original = displaced_.original_at_slot_start(*pc)) {
      if (!write_pc(tid, *original)) continue;
      thread.maybe_in_scratch_area = false;
      if (tid != reporting && !thread.pending) thread.reported_breakpoint = *original;
    }
  }
}

}  // namespace gostub::target
