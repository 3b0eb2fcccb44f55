// The goroutine reader and the runtime reader over a fake memory made of the input: allgs,
// each g, its stack (unwound with pclntab), pprof labels, panic values, thread goroutines.
// The binary is the synthetic Go program of the seed corpus (corpus/elf/synthetic-go1.21), so
// that the layouts of a known Go version apply.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "symbols/goroutines.hpp"

using namespace gostub::symbols;

namespace {

// Memory: the input, repeated over [kBase, kBase + kSpan); nothing readable elsewhere. Any
// pointer the fuzzer writes into that window leads somewhere.
constexpr std::uint64_t kBase = 0x10000;
constexpr std::uint64_t kSpan = 1 << 24;

class InputMemory : public MemoryReader {
 public:
  InputMemory(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool read(std::uint64_t address, std::span<char> out) const override {
    if (size_ == 0 || address < kBase || address - kBase >= kSpan ||
        out.size() > kSpan - (address - kBase) || out.size() > (1 << 20)) {
      return false;
    }
    auto at = (address - kBase) % size_;
    for (std::size_t done = 0; done < out.size();) {
      const auto piece = std::min<std::size_t>(out.size() - done, size_ - at);
      std::memcpy(out.data() + done, data_ + at, piece);
      done += piece;
      at = 0;
    }
    return true;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

const GoBinary& binary() {
  static const auto opened = GoBinary::open(GOSTUB_FUZZ_CORPUS "/elf/synthetic-go1.21");
  if (!opened) {
    std::fprintf(stderr, "fuzz_goroutines: %s\n", opened.error().message.c_str());
    std::abort();
  }
  return *opened;
}

std::uint64_t word(const std::uint8_t* data, std::size_t size, std::size_t at) {
  std::uint64_t value = 0;
  if (size >= at + 8) std::memcpy(&value, data + at, 8);
  return value;
}

}  // namespace

// The reader's cost is linear in allgs' length (10,000 goroutines: ~11 ms, up to the
// reader's own bound of 10 million): longer lists are not what this target explores.
constexpr std::uint64_t kMaxAllgs = 4096;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (word(data, size, 8) > kMaxAllgs) return 0;
  const InputMemory memory(data, size);
  Goroutines reader(binary(), 0);
  reader.set_allgs_address(kBase);
  const ThreadContext thread{1, word(data, size, 8), word(data, size, 16), word(data, size, 24),
                             word(data, size, 32)};
  if (auto goroutines = reader.read(memory, std::span(&thread, 1))) {
    std::size_t shown = 0;
    for (const auto& goroutine : *goroutines) {
      if (++shown > 32) break;
      (void)reader.stack(memory, goroutine.pc, goroutine.sp, 64);
      if (shown <= 8) (void)reader.labels(memory, goroutine);
      (void)reader.wait_reason(goroutine.wait_reason);
      (void)reader.is_system(goroutine);
      (void)reader.function_at(goroutine.start_pc);
    }
  }
  const auto& runtime = reader.runtime();
  (void)runtime.goroutine_id(memory, word(data, size, 40));
  (void)runtime.panic_value(memory, word(data, size, 48));
  (void)runtime.thread_goroutine(memory, word(data, size, 56));
  (void)runtime.type_name(memory, word(data, size, 64));
  return 0;
}
