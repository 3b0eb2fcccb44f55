#include "symbols/build_info.hpp"

#include <elf.h>
#include <fmt/format.h>

#include <cctype>
#include <cstring>

#include "uvarint.hpp"

namespace gostub::symbols {

namespace {

constexpr std::string_view kMagic = "\xff Go buildinf:";
constexpr std::size_t kHeaderSize = 32;
constexpr std::size_t kAlignment = 16;
constexpr std::uint8_t kFlagInlineStrings = 2;
constexpr std::uint8_t kFlagBigEndian = 1;
constexpr std::size_t kSentinelSize = 16;

std::optional<std::string> read_uvarint_string(std::span<const std::uint8_t> bytes,
                                               std::size_t& at) {
  const auto length = read_uvarint(bytes, at);
  if (!length || *length > bytes.size() - at) return std::nullopt;
  std::string text(reinterpret_cast<const char*>(bytes.data() + at), *length);
  at += *length;
  return text;
}

std::uint64_t load_word(const std::uint8_t* p, std::size_t size) {
  std::uint64_t value = 0;
  std::memcpy(&value, p, size);  // little-endian host and target
  return value;
}

// A Go string header (pointer, length) at `address`, and the bytes it points to.
std::optional<std::string> read_go_string(const ElfImage& image, std::uint64_t address,
                                          std::size_t pointer_size) {
  const auto header = image.at_address(address, 2 * pointer_size);
  if (header.empty()) return std::nullopt;
  const auto data = load_word(header.data(), pointer_size);
  const auto length = load_word(header.data() + pointer_size, pointer_size);
  const auto bytes = image.at_address(data, length);
  if (bytes.size() != length) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Go's strconv.Unquote for the forms build settings use: "…" with escapes, or `…`.
std::optional<std::string> unquote(std::string_view text) {
  if (text.size() < 2 || text.front() != text.back()) return std::nullopt;
  if (text.front() == '`') return std::string(text.substr(1, text.size() - 2));
  if (text.front() != '"') return std::nullopt;
  std::string out;
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (++i + 1 >= text.size() + 1) return std::nullopt;
    switch (text[i]) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '"':
        out.push_back('"');
        break;
      default:
        out.push_back('\\');
        out.push_back(text[i]);
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

std::optional<Module> module_from(const std::vector<std::string_view>& columns) {
  if (columns.size() != 2 && columns.size() != 3) return std::nullopt;
  return Module{std::string(columns[0]), std::string(columns[1]),
                columns.size() == 3 ? std::string(columns[2]) : "", std::nullopt};
}

}  // namespace

const std::string* BuildInfo::setting(std::string_view key) const {
  for (const auto& [name, value] : settings) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::optional<int> BuildInfo::go_minor() const {
  if (!go_version.starts_with("go1.")) return std::nullopt;
  int minor = 0;
  std::size_t i = 4;
  if (i >= go_version.size() || !std::isdigit(static_cast<unsigned char>(go_version[i])))
    return std::nullopt;
  for (; i < go_version.size() && std::isdigit(static_cast<unsigned char>(go_version[i])); ++i) {
    minor = minor * 10 + (go_version[i] - '0');
  }
  return minor;
}

Result<void> parse_module_info(std::string_view text, BuildInfo& info) {
  Module* last = nullptr;
  int number = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    if (newline == std::string_view::npos) break;  // as Go: an unterminated line is ignored
    const auto line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    ++number;
    const auto error = [&](std::string_view what) {
      return fail(fmt::format("build info line {}: {}", number, what));
    };
    if (line.starts_with("path\t")) {
      info.path = line.substr(5);
    } else if (line.starts_with("mod\t")) {
      auto module = module_from(split(line.substr(4), '\t'));
      if (!module) return error("expected 2 or 3 columns");
      info.main = std::move(*module);
      last = &*info.main;
    } else if (line.starts_with("dep\t")) {
      auto module = module_from(split(line.substr(4), '\t'));
      if (!module) return error("expected 2 or 3 columns");
      info.dependencies.push_back(std::move(*module));
      last = &info.dependencies.back();
    } else if (line.starts_with("=>\t")) {
      const auto columns = split(line.substr(3), '\t');
      if (columns.size() != 3 || last == nullptr) return error("bad replacement");
      last->replaced_by = std::pair{std::string(columns[0]), std::string(columns[1])};
      last = nullptr;
    } else if (line.starts_with("build\t")) {
      const auto setting = line.substr(6);
      std::string key;
      std::string_view raw_value;
      if (!setting.empty() && (setting.front() == '"' || setting.front() == '`')) {
        const auto close = setting.find(setting.front(), 1);
        if (close == std::string_view::npos || close + 1 >= setting.size() ||
            setting[close + 1] != '=') {
          return error("bad quoted key");
        }
        auto unquoted = unquote(setting.substr(0, close + 1));
        if (!unquoted) return error("bad quoted key");
        key = std::move(*unquoted);
        raw_value = setting.substr(close + 2);
      } else {
        const auto equals = setting.find('=');
        if (equals == std::string_view::npos || equals == 0) return error("missing '='");
        key = setting.substr(0, equals);
        raw_value = setting.substr(equals + 1);
      }
      std::string value(raw_value);
      if (!raw_value.empty() && (raw_value.front() == '"' || raw_value.front() == '`')) {
        auto unquoted = unquote(raw_value);
        if (!unquoted) return error("bad quoted value");
        value = std::move(*unquoted);
      }
      info.settings.emplace_back(std::move(key), std::move(value));
    }
  }
  return {};
}

Result<BuildInfo> read_build_info(const ElfImage& image) {
  std::span<const std::uint8_t> data;
  if (const auto* section = image.section(".go.buildinfo")) {
    data = image.contents(*section);
  } else {
    for (const auto& segment : image.segments()) {
      if (segment.type == PT_LOAD && (segment.flags & (PF_X | PF_W)) == PF_W) {
        data = image.from_address(segment.address);
        break;
      }
    }
  }
  // The header is 16-byte aligned within the data (debug/buildinfo searches the same way).
  std::size_t at = 0;
  for (;;) {
    const auto* found = data.size() > at
                            ? static_cast<const std::uint8_t*>(memmem(
                                  data.data() + at, data.size() - at, kMagic.data(), kMagic.size()))
                            : nullptr;
    if (found == nullptr) return fail("no Go build info (not a Go program, or older than Go 1.13)");
    const auto offset = static_cast<std::size_t>(found - data.data());
    if (offset % kAlignment == 0 && data.size() - offset >= kHeaderSize) {
      data = data.subspan(offset);
      break;
    }
    at = (offset + kAlignment) & ~(kAlignment - 1);
  }
  const std::size_t pointer_size = data[14];
  const std::uint8_t flags = data[15];
  BuildInfo info;
  std::string module_text;
  if (flags & kFlagInlineStrings) {
    info.inline_strings = true;
    std::size_t cursor = kHeaderSize;
    auto version = read_uvarint_string(data, cursor);
    auto modules = read_uvarint_string(data, cursor);
    if (!version || !modules) return fail("build info: truncated strings");
    info.go_version = std::move(*version);
    module_text = std::move(*modules);
  } else {
    if ((flags & kFlagBigEndian) || (pointer_size != 4 && pointer_size != 8)) {
      return fail("build info: unsupported byte order or pointer size");
    }
    auto version = read_go_string(image, load_word(data.data() + 16, pointer_size), pointer_size);
    auto modules = read_go_string(image, load_word(data.data() + 16 + pointer_size, pointer_size),
                                  pointer_size);
    if (!version) return fail("build info: cannot read the version string");
    info.go_version = std::move(*version);
    module_text = modules.value_or("");
  }
  if (info.go_version.empty()) return fail("build info: empty Go version");
  // The module text is framed by 16-byte sentinels.
  if (module_text.size() >= 2 * kSentinelSize + 1 &&
      module_text[module_text.size() - kSentinelSize - 1] == '\n') {
    module_text = module_text.substr(kSentinelSize, module_text.size() - 2 * kSentinelSize);
  } else {
    module_text.clear();
  }
  if (auto parsed = parse_module_info(module_text, info); !parsed)
    return std::unexpected(parsed.error());
  info.module_text = std::move(module_text);
  return info;
}

}  // namespace gostub::symbols
