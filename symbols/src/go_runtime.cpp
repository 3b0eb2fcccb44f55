#include "symbols/go_runtime.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "uvarint.hpp"

namespace gostub::symbols {

namespace {

// internal/abi.Type (runtime._type before 1.21): the same offsets in 1.19-1.23.
constexpr std::uint64_t kTypeFlags = 20;
constexpr std::uint64_t kTypeKind = 23;
constexpr std::uint64_t kTypeName = 40;
constexpr std::uint8_t kKindMask = 0x1f;
constexpr std::uint8_t kFlagExtraStar = 1 << 1;
enum Kind : std::uint8_t { kInt = 2, kInt64 = 6, kString = 24 };
constexpr std::uint64_t kPanicArg = 8;  // runtime._panic.arg, after argp
constexpr std::size_t kMaxString = 4096;

// runtime/error.go: boundsErrorFmt, indexed by boundsError.code.
constexpr std::array<std::string_view, 9> kBoundsFormats = {
    "index out of range [{x}] with length {y}",
    "slice bounds out of range [:{x}] with length {y}",
    "slice bounds out of range [:{x}] with capacity {y}",
    "slice bounds out of range [{x}:{y}]",
    "slice bounds out of range [::{x}] with length {y}",
    "slice bounds out of range [::{x}] with capacity {y}",
    "slice bounds out of range [:{x}:{y}]",
    "slice bounds out of range [{x}:{y}:]",
    "cannot convert slice with length {x} to array or pointer to array with length {y}",
};

}  // namespace

GoRuntime::GoRuntime(const GoBinary& binary, std::uint64_t load_bias)
    : binary_(binary),
      load_bias_(load_bias),
      layout_(RuntimeLayout::for_go_minor(binary.build_info() ? binary.build_info()->go_minor()
                                                              : std::nullopt)) {
  moduledata_types_offset_ = binary.lines().version() == PclntabVersion::k120 ? 296 : 280;
}

std::optional<std::uint64_t> read_word(const MemoryReader& memory, std::uint64_t address) {
  std::uint64_t value;
  if (!memory.read(address, std::span(reinterpret_cast<char*>(&value), sizeof value)))
    return std::nullopt;
  return value;
}

std::optional<std::int64_t> GoRuntime::goroutine_id(const MemoryReader& memory,
                                                    std::uint64_t g) const {
  const auto id = read_word(memory, g + layout_.g_goid);
  if (!id) return std::nullopt;
  return static_cast<std::int64_t>(*id);
}

std::optional<std::uint64_t> GoRuntime::thread_g(const MemoryReader& memory,
                                                 std::uint64_t fs_base) const {
  if (fs_base < 8) return std::nullopt;
  auto g = read_word(memory, fs_base - 8);
  if (!g || *g == 0) return std::nullopt;
  if (const auto m = read_word(memory, *g + layout_.g_m); m && *m != 0) {
    if (const auto g0 = read_word(memory, *m + layout_.m_g0); g0 && *g0 == *g) {
      g = read_word(memory, *m + layout_.m_curg);  // on the scheduler stack: the user goroutine
      if (!g || *g == 0) return std::nullopt;
    }
  }
  return g;
}

std::optional<GoRuntime::Goroutine> GoRuntime::thread_goroutine(const MemoryReader& memory,
                                                                std::uint64_t fs_base) const {
  // Asked for every thread at every stop (thread names): the g and the m are read whole, one
  // read each, rather than a word at a time (three reads a thread where there were five).
  if (fs_base < 8) return std::nullopt;
  const auto g = read_word(memory, fs_base - 8);
  if (!g || *g == 0) return std::nullopt;
  struct Block {
    std::vector<char> bytes;
    bool read(const MemoryReader& memory, std::uint64_t address) {
      return memory.read(address, std::span(bytes.data(), bytes.size()));
    }
    std::uint64_t word(std::uint64_t offset) const {
      std::uint64_t value;
      std::memcpy(&value, bytes.data() + offset, sizeof value);
      return value;
    }
  };
  Block g_block{std::vector<char>(std::max({layout_.g_m, layout_.g_goid, layout_.g_startpc}) + 8)};
  Block m_block{std::vector<char>(std::max(layout_.m_g0, layout_.m_curg) + 8)};
  auto user_g = *g;
  if (!g_block.read(memory, user_g)) return std::nullopt;
  if (const auto m = g_block.word(layout_.g_m); m != 0) {
    if (!m_block.read(memory, m)) return std::nullopt;
    if (m_block.word(layout_.m_g0) == user_g) {
      user_g = m_block.word(layout_.m_curg);  // on the scheduler stack
      if (user_g == 0 || !g_block.read(memory, user_g)) return std::nullopt;
    }
  }
  const auto id = static_cast<std::int64_t>(g_block.word(layout_.g_goid));
  const auto start = g_block.word(layout_.g_startpc);
  if (id <= 0 || start == 0) return std::nullopt;
  const auto function = binary_.lines().find(start - load_bias_);
  if (!function || function->entry != start - load_bias_) return std::nullopt;
  return Goroutine{id, std::string(binary_.lines().name(*function)), user_g};
}

std::span<const int> known_go_minors() {
  static constexpr int kMinors[] = {19, 20, 21, 22, 23};
  return kMinors;
}

RuntimeLayout RuntimeLayout::for_go_minor(std::optional<int> minor) {
  RuntimeLayout layout;
  const int m = minor.value_or(23);
  if (m >= 23) {
    layout.g_status = 152, layout.g_goid = 160, layout.g_waitsince = 176;
    layout.g_waitreason = 184, layout.g_gopc = 288, layout.g_startpc = 304, layout.g_labels = 352;
  } else if (m >= 21) {
    layout.g_status = 144, layout.g_goid = 152, layout.g_waitsince = 168;
    layout.g_waitreason = 176, layout.g_gopc = 280, layout.g_startpc = 296, layout.g_labels = 344;
  } else {
    layout.g_status = 144, layout.g_goid = 152, layout.g_waitsince = 168;
    layout.g_waitreason = 176, layout.g_gopc = 296, layout.g_startpc = 312, layout.g_labels = 360;
  }
  return layout;
}

std::optional<std::string> GoRuntime::go_string(const MemoryReader& memory, std::uint64_t pointer,
                                                std::uint64_t length) const {
  std::string text(std::min<std::uint64_t>(length, kMaxString), '\0');
  if (!text.empty() && !memory.read(pointer, text)) return std::nullopt;
  if (length > kMaxString) text += "...";
  return text;
}

std::optional<std::uint64_t> GoRuntime::types_base(const MemoryReader& memory) const {
  const auto moduledata = binary_.moduledata();
  if (!moduledata) return std::nullopt;
  return read_word(memory, *moduledata + load_bias_ + moduledata_types_offset_);
}

std::optional<std::uint64_t> GoRuntime::types_end(const MemoryReader& memory) const {
  const auto moduledata = binary_.moduledata();
  if (!moduledata) return std::nullopt;
  return read_word(memory, *moduledata + load_bias_ + moduledata_types_offset_ + 8);
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> GoRuntime::typelinks(
    const MemoryReader& memory) const {
  const auto moduledata = binary_.moduledata();
  if (!moduledata) return std::nullopt;
  // types, etypes, rodata, gofunc, textsectmap (a slice), then typelinks: 1.19-1.23 alike.
  const auto at = *moduledata + load_bias_ + moduledata_types_offset_ + 56;
  const auto base = read_word(memory, at);
  const auto length = read_word(memory, at + 8);
  if (!base || !length) return std::nullopt;
  return std::pair(*base, *length);
}

std::optional<std::string> GoRuntime::type_name(const MemoryReader& memory,
                                                std::uint64_t type) const {
  std::array<char, kTypeName + 4> header;
  if (!memory.read(type, header)) return std::nullopt;
  std::int32_t name_offset;
  std::memcpy(&name_offset, header.data() + kTypeName, 4);
  const auto types = types_base(memory);
  if (!types) return std::nullopt;
  // abi.Name: a flag byte, a varint length, the bytes.
  std::array<char, 11> prefix{};
  const auto name = *types + static_cast<std::uint64_t>(static_cast<std::int64_t>(name_offset));
  if (!memory.read(name, prefix)) return std::nullopt;
  std::size_t at = 1;
  const auto length = read_uvarint(
      std::span(reinterpret_cast<const std::uint8_t*>(prefix.data()), prefix.size()), at);
  if (!length) return std::nullopt;
  auto text = go_string(memory, name + at, *length);
  if (text && (static_cast<std::uint8_t>(header[kTypeFlags]) & kFlagExtraStar) && !text->empty()) {
    text->erase(0, 1);  // the name is stored with a '*' for the pointer type's sake
  }
  return text;
}

std::string GoRuntime::interface_value(const MemoryReader& memory, std::uint64_t type,
                                       std::uint64_t data) const {
  if (type == 0) return "nil";
  const auto name = type_name(memory, type).value_or("?");
  char kind_byte = 0;
  memory.read(type + kTypeKind, std::span(&kind_byte, 1));
  const auto kind = static_cast<std::uint8_t>(kind_byte) & kKindMask;
  const auto string_at = [&](std::uint64_t header) -> std::optional<std::string> {
    const auto pointer = read_word(memory, header);
    const auto length = read_word(memory, header + 8);
    if (!pointer || !length) return std::nullopt;
    return go_string(memory, *pointer, *length);
  };
  // Errors whose message is a string field first (errors.New, fmt.Errorf) or the value.
  if (name == "*errors.errorString" || name == "*fmt.wrapError" || name == "*fmt.wrapErrors" ||
      name == "runtime.plainError" || kind == kString) {
    if (auto text = string_at(data)) {
      // runtime.errorString.Error() prefixes "runtime error: ".
      return name == "runtime.errorString" ? "runtime error: " + *text : *text;
    }
  }
  if (name == "runtime.boundsError") {
    std::array<char, 18> fields;  // x int64, y int, signed bool, code uint8
    if (memory.read(data, fields)) {
      std::int64_t x, y;
      std::memcpy(&x, fields.data(), 8);
      std::memcpy(&y, fields.data() + 8, 8);
      const auto code = static_cast<std::uint8_t>(fields[17]);
      if (code < kBoundsFormats.size()) {
        return "runtime error: " +
               fmt::format(fmt::runtime(kBoundsFormats[code]), fmt::arg("x", x), fmt::arg("y", y));
      }
    }
  }
  if (kind >= kInt && kind <= kInt64) {
    if (const auto value = read_word(memory, data)) {
      // Go prints a panicked integer as its value; narrower kinds sign-extend.
      const unsigned bits = kind == kInt || kind == kInt64 ? 64 : 8u << (kind - 3);
      const auto shift = 64 - bits;
      return fmt::format("{}", static_cast<std::int64_t>(*value << shift) >> shift);
    }
  }
  return fmt::format("({}) {:#x}", name, data);
}

std::string GoRuntime::panic_value(const MemoryReader& memory, std::uint64_t panic) const {
  const auto type = read_word(memory, panic + kPanicArg);
  const auto data = read_word(memory, panic + kPanicArg + 8);
  if (!type || !data) return "?";
  return interface_value(memory, *type, *data);
}

}  // namespace gostub::symbols
