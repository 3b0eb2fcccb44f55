// gdb's agent printf (the `printf` bytecode of an agent dprintf), formatted as the C library
// would on the target, one conversion at a time.
#include <array>
#include <cstdio>
#include <string>

#include "protocol/agent_expression.hpp"

namespace gostub::protocol {

namespace {

constexpr std::size_t kMaxString = 4096;

// A NUL-terminated string from the program's memory, read a chunk at a time (a short string
// near the end of a mapping must not fail because a long read would cross it).
std::expected<std::string, std::string> read_string(const AgentContext& context,
                                                    std::uint64_t address, std::size_t limit) {
  std::string out;
  std::array<char, 64> chunk{};
  while (out.size() < limit) {
    const auto want = std::min(chunk.size(), limit - out.size());
    bool got = context.read_memory(address + out.size(), std::span(chunk.data(), want));
    std::size_t have = want;
    if (!got) {  // byte by byte up to the fault
      for (have = 0; have < want; ++have) {
        if (!context.read_memory(address + out.size() + have, std::span(chunk.data() + have, 1)))
          break;
      }
      if (have == 0) {
        if (out.empty())
          return std::unexpected("cannot read the string at " + std::to_string(address));
        break;
      }
    }
    for (std::size_t i = 0; i < have; ++i) {
      if (chunk[i] == '\0') return out;
      out += chunk[i];
    }
    if (have < want) break;
  }
  return out;
}

}  // namespace

std::expected<std::string, std::string> format_agent_printf(std::string_view format,
                                                            std::span<const std::int64_t> args,
                                                            const AgentContext& context) {
  std::string out;
  std::size_t next_arg = 0;
  std::array<char, 512> buffer{};
  for (std::size_t at = 0; at < format.size();) {
    if (format[at] == '\\' && at + 1 < format.size()) {
      // gdb sends the format as the user wrote it: escapes are read here, as gdb's own
      // format_pieces reads them.
      const char escaped = format[at + 1];
      const std::string_view from = "\\\"'abefnrtv", to = "\\\"'\a\b\x1b\f\n\r\t\v";
      if (const auto which = from.find(escaped); which != std::string_view::npos) {
        out += to[which];
        at += 2;
        continue;
      }
      if (escaped >= '0' && escaped <= '7') {
        unsigned value = 0;
        std::size_t digits = 0;
        for (++at; at < format.size() && digits < 3 && format[at] >= '0' && format[at] <= '7';
             ++at, ++digits) {
          value = value * 8 + static_cast<unsigned>(format[at] - '0');
        }
        out += static_cast<char>(value);
        continue;
      }
      return std::unexpected(std::string("unknown escape \\") + escaped + " in the format");
    }
    if (format[at] != '%') {
      out += format[at++];
      continue;
    }
    if (at + 1 < format.size() && format[at + 1] == '%') {
      out += '%';
      at += 2;
      continue;
    }
    // %[flags][width][.precision][length]conversion
    std::string piece = "%";
    ++at;
    while (at < format.size() &&
           std::string_view("-+ #0'").find(format[at]) != std::string_view::npos)
      piece += format[at++];
    while (at < format.size() && format[at] >= '0' && format[at] <= '9') piece += format[at++];
    std::size_t precision = kMaxString;
    if (at < format.size() && format[at] == '.') {
      piece += format[at++];
      std::size_t value = 0;
      while (at < format.size() && format[at] >= '0' && format[at] <= '9') {
        value = value * 10 + static_cast<std::size_t>(format[at] - '0');
        piece += format[at++];
        if (value > kMaxString) return std::unexpected("printf precision too large");
      }
      precision = value;
    }
    if (piece.size() > 24) return std::unexpected("printf width too large");
    unsigned bits = 32;
    if (format.substr(at).starts_with("hh")) {
      bits = 8;
      at += 2;
    } else if (format.substr(at).starts_with("ll")) {
      bits = 64;
      at += 2;
    } else if (at < format.size() && format[at] == 'h') {
      bits = 16;
      ++at;
    } else if (at < format.size() &&
               std::string_view("lzjt").find(format[at]) != std::string_view::npos) {
      bits = 64;
      ++at;
    }
    if (at >= format.size()) return std::unexpected("incomplete printf conversion");
    const char conversion = format[at++];
    if (std::string_view("diouxXcsp").find(conversion) == std::string_view::npos) {
      return std::unexpected(std::string("unsupported printf conversion %") + conversion);
    }
    if (next_arg >= args.size()) return std::unexpected("too few printf arguments");
    const auto raw = args[next_arg++];
    int written = 0;
    switch (conversion) {
      case 'd':
      case 'i': {
        long long value = raw;
        if (bits == 8) value = static_cast<signed char>(raw);
        if (bits == 16) value = static_cast<short>(raw);
        if (bits == 32) value = static_cast<int>(raw);
        written = std::snprintf(buffer.data(), buffer.size(), (piece + "lld").c_str(), value);
        break;
      }
      case 'o':
      case 'u':
      case 'x':
      case 'X': {
        auto value = static_cast<unsigned long long>(raw);
        if (bits < 64) value &= (1ULL << bits) - 1;
        written =
            std::snprintf(buffer.data(), buffer.size(), (piece + "ll" + conversion).c_str(), value);
        break;
      }
      case 'c':
        written = std::snprintf(buffer.data(), buffer.size(), (piece + "c").c_str(),
                                static_cast<int>(static_cast<unsigned char>(raw)));
        break;
      case 'p':
        written = std::snprintf(buffer.data(), buffer.size(), (piece + "p").c_str(),
                                reinterpret_cast<void*>(static_cast<std::uintptr_t>(raw)));
        break;
      case 's': {
        auto text = read_string(context, static_cast<std::uint64_t>(raw), precision);
        if (!text) return std::unexpected(text.error());
        written = std::snprintf(buffer.data(), buffer.size(), (piece + "s").c_str(), text->c_str());
        if (written >= static_cast<int>(buffer.size())) {
          out += *text;  // longer than the buffer: the string itself, unpadded
          written = 0;
        }
        break;
      }
      default:
        break;
    }
    if (written > 0)
      out.append(buffer.data(),
                 std::min<std::size_t>(static_cast<std::size_t>(written), buffer.size() - 1));
  }
  return out;
}

}  // namespace gostub::protocol
