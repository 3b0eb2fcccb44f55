#include "symbols/goroutines.hpp"

#include <capstone/capstone.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>

namespace gostub::symbols {

namespace {

constexpr std::uint32_t kScanBit = 0x1000;
constexpr std::uint64_t kMaxGoroutines = 10'000'000;

// runtime.waitReasonStrings, for binaries without the symbol. Every version starts with the
// same 21 reasons; 1.21 renumbered what follows, and 1.22 and 1.23 only appended to it, so one
// tail serves 1.21+ cut to each version's length.
constexpr std::array<std::string_view, 21> kWaitReasonsShared = {
    "",
    "GC assist marking",
    "IO wait",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "dumping heap",
    "garbage collection",
    "garbage collection scan",
    "panicwait",
    "select",
    "select (no cases)",
    "GC assist wait",
    "GC sweep wait",
    "GC scavenge wait",
    "chan receive",
    "chan send",
    "finalizer wait",
    "force gc (idle)",
    "semacquire",
    "sleep",
    "sync.Cond.Wait",
};
constexpr std::array<std::string_view, 6> kWaitReasons119Tail = {
    "timer goroutine (idle)",
    "trace reader (blocked)",
    "wait for GC cycle",
    "GC worker (idle)",
    "preempted",
    "debug call",
};
constexpr std::array<std::string_view, 17> kWaitReasons121Tail = {
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "trace reader (blocked)",
    "wait for GC cycle",
    "GC worker (idle)",
    "GC worker (active)",
    "preempted",
    "debug call",
    "GC mark termination",
    "stopping the world",
    "flushing proc caches",    // 1.22
    "trace goroutine status",  // 1.22
    "trace proc status",       // 1.22
    "page trace flush",        // 1.22
    "coroutine",               // 1.22
    "GC weak to strong wait",  // 1.23
};

std::vector<std::string> wait_reasons_for(std::optional<int> minor) {
  std::vector<std::string> out(kWaitReasonsShared.begin(), kWaitReasonsShared.end());
  if (minor && *minor >= 21) {
    const std::size_t tail = *minor == 21 ? 11 : *minor == 22 ? 16 : kWaitReasons121Tail.size();
    out.insert(out.end(), kWaitReasons121Tail.begin(), kWaitReasons121Tail.begin() + tail);
  } else {
    out.insert(out.end(), kWaitReasons119Tail.begin(), kWaitReasons119Tail.end());
  }
  return out;
}

// The strings a []string global holds, read from the file (they are link-time constants).
std::vector<std::string> string_table(const ElfImage& image, std::uint64_t address,
                                      std::size_t count) {
  std::vector<std::string> out;
  const auto table = image.at_address(address, count * 16);
  if (table.size() != count * 16) return out;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t pointer, length;
    std::memcpy(&pointer, table.data() + i * 16, 8);
    std::memcpy(&length, table.data() + i * 16 + 8, 8);
    if (length == 0) {
      out.emplace_back();
      continue;
    }
    const auto text = image.at_address(pointer, length);
    if (text.size() != length) return {};
    out.emplace_back(reinterpret_cast<const char*>(text.data()), text.size());
  }
  return out;
}

template <typename T>
T field(const std::vector<char>& bytes, std::uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

}  // namespace

std::string_view status_name(GoroutineStatus status) {
  static constexpr std::array<std::string_view, 10> kNames = {
      "idle",     "runnable", "running", "syscall",   "waiting",
      "moribund", "dead",     "enqueue", "copystack", "preempted"};
  const auto index = static_cast<std::size_t>(status);
  return index < kNames.size() ? kNames[index] : "???";
}

Goroutines::Goroutines(const GoBinary& binary, std::uint64_t load_bias)
    : binary_(binary),
      load_bias_(load_bias),
      runtime_(binary, load_bias),
      layout_(runtime_.layout()) {
  const auto minor = binary.build_info() ? binary.build_info()->go_minor() : std::nullopt;
  wait_reasons_ = wait_reasons_for(minor);
  if (const auto table = binary.image().symbol("runtime.waitReasonStrings")) {
    // The array's length is not in the symbol we read; the version's table says how many.
    if (auto strings = string_table(binary.image(), *table, wait_reasons_.size());
        !strings.empty()) {
      wait_reasons_ = std::move(strings);
    }
  }
}

std::string Goroutines::wait_reason(std::uint8_t reason) const {
  if (reason < wait_reasons_.size()) return wait_reasons_[reason];
  return fmt::format("wait reason {}", reason);
}

std::optional<std::uint64_t> Goroutines::allgs_from_code(std::string_view function_name) const {
  const auto& lines = binary_.lines();
  const auto function = lines.find_by_name(function_name);
  if (!function) return std::nullopt;
  const auto code = binary_.image().at_address(function->entry, function->end - function->entry);
  if (code.empty()) return std::nullopt;
  csh handle;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return std::nullopt;
  cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* instructions = nullptr;
  const auto count = cs_disasm(handle, code.data(), code.size(), function->entry, 0, &instructions);
  // The slice header {ptr, len, cap} is loaded word by word: allgs is the lowest address
  // read from memory whose next word is read too.
  std::vector<std::uint64_t> loads;
  for (std::size_t i = 0; i < count; ++i) {
    const auto& insn = instructions[i];
    if (insn.id != X86_INS_MOV) continue;
    const auto& x86 = insn.detail->x86;
    for (std::uint8_t k = 0; k < x86.op_count; ++k) {
      const auto& op = x86.operands[k];
      if (op.type == X86_OP_MEM && op.mem.base == X86_REG_RIP && op.mem.index == X86_REG_INVALID)
        loads.push_back(insn.address + insn.size + static_cast<std::uint64_t>(op.mem.disp));
    }
  }
  cs_free(instructions, count);
  cs_close(&handle);
  std::sort(loads.begin(), loads.end());
  for (const auto address : loads) {
    if (std::binary_search(loads.begin(), loads.end(), address + 8)) return address;
  }
  return std::nullopt;
}

std::vector<Goroutines::Candidate> Goroutines::allgs_candidates() const {
  std::vector<Candidate> out;
  if (told_allgs_) out.push_back({*told_allgs_, "qSymbol"});
  if (const auto symbol = binary_.image().symbol("runtime.allgs"))
    out.push_back({*symbol, "symbol"});
  for (const std::string_view function : {"runtime.allGsSnapshot", "runtime.forEachG"}) {
    if (const auto found = allgs_from_code(function)) {
      out.push_back({*found, fmt::format("code: {}", function)});
    }
  }
  return out;
}

bool Goroutines::plausible_allgs(const MemoryReader& memory, std::uint64_t address) const {
  std::array<std::uint64_t, 3> slice;
  if (!memory.read(address, std::span(reinterpret_cast<char*>(slice.data()), 24))) return false;
  const auto [pointer, length, capacity] = slice;
  if (pointer == 0 || length == 0 || length > capacity || capacity > kMaxGoroutines) return false;
  // The first goroutine made (runtime.main's, id 1) has a stack and a positive id.
  const auto first = read_word(memory, pointer);
  if (!first || *first == 0) return false;
  const auto id = read_word(memory, *first + layout_.g_goid);
  const auto lo = read_word(memory, *first + layout_.g_stack_lo);
  const auto hi = read_word(memory, *first + layout_.g_stack_hi);
  return id && *id > 0 && *id < (1ull << 40) && lo && hi && *lo < *hi;
}

Result<std::vector<Goroutine>> Goroutines::read(const MemoryReader& memory,
                                                std::span<const ThreadContext> threads) const {
  if (!allgs_) {
    for (const auto& candidate : allgs_candidates()) {
      if (plausible_allgs(memory, candidate.address + load_bias_)) {
        allgs_ = candidate.address + load_bias_;
        allgs_found_by_ = candidate.found_by;
        break;
      }
    }
    if (!allgs_) {
      const auto candidates = allgs_candidates();
      if (!candidates.empty()) {
        // Found, but holding no goroutine: the runtime has not made its first one yet.
        return fail(
            fmt::format("no goroutines yet: runtime.allgs ({:#x}, {}) is empty; the Go "
                        "runtime has not started",
                        candidates.front().address + load_bias_, candidates.front().found_by));
      }
      return fail(
          "cannot find runtime.allgs: no symbol, no runtime function that loads it, and the "
          "client's symbols did not name it");
    }
  }
  std::array<std::uint64_t, 2> slice;
  if (!memory.read(*allgs_, std::span(reinterpret_cast<char*>(slice.data()), 16)) ||
      slice[1] > kMaxGoroutines) {
    return fail(fmt::format("cannot read runtime.allgs at {:#x}", *allgs_));
  }
  std::vector<std::uint64_t> pointers(slice[1]);
  if (!pointers.empty() &&
      !memory.read(slice[0],
                   std::span(reinterpret_cast<char*>(pointers.data()), pointers.size() * 8))) {
    return fail(fmt::format("cannot read the {} goroutine pointers at {:#x}", slice[1], slice[0]));
  }
  // Each g's fields in one read of its first bytes, all of them batched.
  const auto size = layout_.g_prefix();
  std::vector<std::vector<char>> records(pointers.size(), std::vector<char>(size));
  std::vector<MemoryReader::Request> requests;
  requests.reserve(pointers.size());
  for (std::size_t i = 0; i < pointers.size(); ++i) {
    requests.push_back({pointers[i], records[i], false});
  }
  memory.read_many(requests);

  std::map<std::uint64_t, const ThreadContext*> running;  // g -> the thread running it
  for (const auto& thread : threads) {
    if (const auto g = runtime_.thread_g(memory, thread.fs_base)) {
      // Only a thread on the goroutine's own stack has its registers; one on g0 (systemstack,
      // the scheduler) left them in g.sched.
      const auto tls_g = read_word(memory, thread.fs_base - 8);
      if (tls_g && *tls_g == *g) running[*g] = &thread;
    }
  }

  std::vector<Goroutine> out;
  out.reserve(pointers.size());
  for (std::size_t i = 0; i < pointers.size(); ++i) {
    if (!requests[i].ok) continue;
    const auto& r = records[i];
    Goroutine goroutine;
    goroutine.g = pointers[i];
    goroutine.status =
        static_cast<GoroutineStatus>(field<std::uint32_t>(r, layout_.g_status) & ~kScanBit);
    if (goroutine.status == GoroutineStatus::kDead || goroutine.status == GoroutineStatus::kIdle)
      continue;
    goroutine.id = field<std::int64_t>(r, layout_.g_goid);
    goroutine.wait_reason = field<std::uint8_t>(r, layout_.g_waitreason);
    goroutine.wait_since = field<std::int64_t>(r, layout_.g_waitsince);
    goroutine.stack_lo = field<std::uint64_t>(r, layout_.g_stack_lo);
    goroutine.stack_hi = field<std::uint64_t>(r, layout_.g_stack_hi);
    goroutine.start_pc = field<std::uint64_t>(r, layout_.g_startpc);
    goroutine.creator_pc = field<std::uint64_t>(r, layout_.g_gopc);
    goroutine.labels = field<std::uint64_t>(r, layout_.g_labels);
    goroutine.m = field<std::uint64_t>(r, layout_.g_m);
    goroutine.pc = field<std::uint64_t>(r, layout_.g_sched + layout_.gobuf_pc);
    goroutine.sp = field<std::uint64_t>(r, layout_.g_sched + layout_.gobuf_sp);
    goroutine.bp = field<std::uint64_t>(r, layout_.g_sched + layout_.gobuf_bp);
    // A thread lends its registers only while on the goroutine's own stack: one in a signal
    // handler (sigaltstack) still has the goroutine in its TLS slot, but its sp and pc are the
    // handler's. Then g.sched (or g.syscall*) is what the runtime last saved.
    const auto found = running.find(goroutine.g);
    if (found != running.end() && found->second->sp >= goroutine.stack_lo &&
        found->second->sp < goroutine.stack_hi) {
      goroutine.pc = found->second->pc, goroutine.sp = found->second->sp;
      goroutine.bp = found->second->bp, goroutine.thread = found->second->thread;
    } else if (goroutine.status == GoroutineStatus::kSyscall) {
      goroutine.pc = field<std::uint64_t>(r, layout_.g_syscallpc);
      goroutine.sp = field<std::uint64_t>(r, layout_.g_syscallsp);
    }
    if (found != running.end() && goroutine.thread == 0) goroutine.thread = found->second->thread;
    if (goroutine.m != 0 && goroutine.thread == 0) {
      if (const auto procid = read_word(memory, goroutine.m + layout_.m_procid))
        goroutine.thread = static_cast<std::int64_t>(*procid);
    }
    out.push_back(goroutine);
  }
  return out;
}

std::string Goroutines::allgs_description() const {
  if (!allgs_) return {};
  return fmt::format("runtime.allgs {:#x} ({})", *allgs_, allgs_found_by_);
}

std::string_view Goroutines::function_at(std::uint64_t pc) const {
  const auto function = binary_.lines().find(pc - load_bias_);
  return function ? binary_.lines().name(*function) : std::string_view("?");
}

bool Goroutines::is_system(const Goroutine& goroutine) const {
  const auto start = function_at(goroutine.start_pc);
  return start.starts_with("runtime.") && start != "runtime.main";
}

std::vector<StackFrame> Goroutines::stack(const MemoryReader& memory, std::uint64_t pc,
                                          std::uint64_t sp, std::size_t limit) const {
  std::vector<StackFrame> out;
  const auto& lines = binary_.lines();
  for (bool innermost = true; out.size() < limit; innermost = false) {
    const auto link_pc = pc - load_bias_;
    const auto function = lines.find(link_pc);
    if (!function) {
      out.push_back({pc, sp, "?", std::nullopt, false});
      break;
    }
    // A return address belongs to the call before it: look up the call's line.
    const auto lookup = innermost || link_pc == function->entry ? link_pc : link_pc - 1;
    for (const auto& frame : binary_.frames(lookup)) {
      out.push_back({pc, sp, frame.function, frame.line, frame.inlined});
    }
    if (out.size() >= limit) break;
    const auto name = lines.name(*function);
    // Where every goroutine's (and thread's) stack begins.
    if (name == "runtime.goexit" || name == "runtime.mstart" || name == "runtime.rt0_go" ||
        name == "runtime.mstart0" || name == "runtime.systemstack_switch")
      break;
    const auto delta = lines.stack_delta(link_pc);
    if (!delta || *delta < 0) break;
    const auto return_address = read_word(memory, sp + static_cast<std::uint64_t>(*delta));
    if (!return_address || *return_address == 0) break;
    pc = *return_address;
    sp += static_cast<std::uint64_t>(*delta) + 8;
  }
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::string Goroutines::labels(const MemoryReader& memory, const Goroutine& goroutine) const {
  // g.labels points at a runtime/pprof labelMap, a map[string]string: *hmap {count, flags, B,
  // noverflow, hash0, buckets, oldbuckets, ...}; each bucket holds tophash[8], 8 keys, 8
  // values and an overflow pointer (Go 1.19-1.23, before Swiss tables).
  if (goroutine.labels == 0) return {};
  const auto map = read_word(memory, goroutine.labels);
  if (!map || *map == 0) return {};
  std::array<char, 32> header;
  if (!memory.read(*map, header)) return {};
  const auto bucket_bits = static_cast<std::uint8_t>(header[9]);
  std::uint64_t buckets;
  std::memcpy(&buckets, header.data() + 16, 8);
  if (bucket_bits > 8 || buckets == 0) return {};
  constexpr std::uint64_t kBucketSize = 8 + 8 * 16 * 2 + 8;
  constexpr std::uint8_t kMinTopHash = 5;
  // A goroutine has a few labels; memory that says otherwise (a corrupt map) must not cost a
  // listing more than this many bucket reads and labels (found by the goroutines fuzzer).
  constexpr int kMaxBucketReads = 1024;
  constexpr std::size_t kMaxLabels = 16;
  int bucket_reads = 0;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::uint64_t b = 0; b < (1u << bucket_bits) && bucket_reads < kMaxBucketReads; ++b) {
    auto bucket = buckets + b * kBucketSize;
    for (int chain = 0; bucket != 0 && chain < 64 && ++bucket_reads <= kMaxBucketReads &&
                        pairs.size() < kMaxLabels;
         ++chain) {
      std::array<char, kBucketSize> data;
      if (!memory.read(bucket, data)) break;
      for (int slot = 0; slot < 8 && pairs.size() < kMaxLabels; ++slot) {
        if (static_cast<std::uint8_t>(data[slot]) < kMinTopHash) continue;
        const auto string_at = [&](std::uint64_t offset) {
          std::uint64_t pointer, length;
          std::memcpy(&pointer, data.data() + offset, 8);
          std::memcpy(&length, data.data() + offset + 8, 8);
          return runtime_.go_string(memory, pointer, length).value_or("?");
        };
        pairs.emplace_back(string_at(8 + slot * 16), string_at(8 + 128 + slot * 16));
      }
      std::memcpy(&bucket, data.data() + kBucketSize - 8, 8);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [key, value] : pairs) {
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", key, value);
  }
  return out;
}

}  // namespace gostub::symbols
