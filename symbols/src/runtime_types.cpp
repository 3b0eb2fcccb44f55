#include "symbols/runtime_types.hpp"

#include <fmt/format.h>

#include <cstring>

#include "uvarint.hpp"

namespace gostub::symbols {

namespace {

// internal/abi.Type and the kind-specific descriptors after it: the same offsets in 1.19-1.23.
constexpr std::uint64_t kSize = 0, kTflag = 20, kKind = 23, kStr = 40, kExtra = 48;
constexpr std::uint8_t kKindMask = 0x1f, kKindDirectIface = 1 << 5, kTflagExtraStar = 1 << 1;
constexpr std::uint64_t kMaxSection = 256 << 20;
constexpr std::size_t kMaxTypes = 1 << 20;

}  // namespace

template <typename T>
std::optional<T> RuntimeTypes::get(std::uint64_t address) const {
  if (address < base_ || address - base_ + sizeof(T) > section_.size()) return std::nullopt;
  T value;
  std::memcpy(&value, section_.data() + (address - base_), sizeof(T));
  return value;
}

bool RuntimeTypes::load() {
  if (loaded_) return !section_.empty();
  loaded_ = true;
  const auto types = runtime_.types_base(memory_);
  const auto end = runtime_.types_end(memory_);
  if (!types || !end || *end <= *types || *end - *types > kMaxSection) {
    error_ = "the runtime's type data (moduledata.types) cannot be found";
    return false;
  }
  base_ = *types;
  section_.resize(*end - *types);
  if (!memory_.read(base_, section_)) {
    section_.clear();
    error_ = fmt::format("cannot read the runtime's type data at {:#x}", base_);
    return false;
  }
  return true;
}

std::optional<std::string> RuntimeTypes::name_at(std::uint64_t address) const {
  // abi.Name: a flag byte, a varint length, the bytes.
  if (address < base_ || address - base_ >= section_.size()) return std::nullopt;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(section_.data());
  const std::span<const std::uint8_t> rest(bytes + (address - base_),
                                           section_.size() - (address - base_));
  std::size_t at = 1;
  const auto length = read_uvarint(rest, at);
  if (!length || at + *length > rest.size()) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(rest.data() + at), *length);
}

const GoType* RuntimeTypes::at(std::uint64_t address) {
  if (!load()) return nullptr;
  if (const auto found = by_address_.find(address); found != by_address_.end()) {
    return found->second;
  }
  const auto size = get<std::uint64_t>(address + kSize);
  const auto kind_byte = get<std::uint8_t>(address + kKind);
  const auto tflag = get<std::uint8_t>(address + kTflag);
  const auto name_offset = get<std::int32_t>(address + kStr);
  if (!size || !kind_byte || !tflag || !name_offset || by_address_.size() >= kMaxTypes) {
    return nullptr;
  }
  auto& type = arena_.make();
  by_address_[address] = &type;  // before the parts: types refer to themselves
  type.kind = static_cast<GoKind>(*kind_byte & kKindMask);
  type.direct_interface = (*kind_byte & kKindDirectIface) != 0;
  type.size = *size;
  type.name = name_at(base_ + static_cast<std::uint64_t>(static_cast<std::int64_t>(*name_offset)))
                  .value_or("?");
  if ((*tflag & kTflagExtraStar) != 0 && !type.name.empty()) type.name.erase(0, 1);
  const auto pointer_at = [&](std::uint64_t offset) -> const GoType* {
    const auto target = get<std::uint64_t>(address + offset);
    return target && *target != 0 ? at(*target) : nullptr;
  };
  switch (type.kind) {
    case GoKind::kArray:
      type.elem = pointer_at(kExtra);
      type.length = get<std::uint64_t>(address + kExtra + 16).value_or(0);
      break;
    case GoKind::kChan:
    case GoKind::kPointer:
    case GoKind::kSlice:
      type.elem = pointer_at(kExtra);
      break;
    case GoKind::kMap:
      type.key = pointer_at(kExtra);
      type.elem = pointer_at(kExtra + 8);
      break;
    case GoKind::kInterface:
      type.empty_interface = get<std::uint64_t>(address + kExtra + 16).value_or(0) == 0;
      break;
    case GoKind::kStruct: {
      // pkgPath, then fields []{name *byte, typ *Type, offset uintptr}.
      const auto fields = get<std::uint64_t>(address + kExtra + 8).value_or(0);
      const auto count = get<std::uint64_t>(address + kExtra + 16).value_or(0);
      for (std::uint64_t i = 0; i < count && i < 4096; ++i) {
        const auto field = fields + i * 24;
        const auto name = get<std::uint64_t>(field);
        const auto field_type = get<std::uint64_t>(field + 8);
        const auto offset = get<std::uint64_t>(field + 16);
        if (!name || !field_type || !offset) break;
        type.fields.push_back(GoField{name_at(*name).value_or("?"), at(*field_type), *offset});
      }
      break;
    }
    default:
      break;
  }
  return &type;
}

const GoType* RuntimeTypes::named(std::string_view name) {
  if (!load()) return nullptr;
  if (!indexed_) {
    indexed_ = true;
    if (const auto links = runtime_.typelinks(memory_); links && links->second < kMaxTypes) {
      std::vector<std::int32_t> offsets(links->second);
      if (memory_.read(links->first,
                       std::span(reinterpret_cast<char*>(offsets.data()), offsets.size() * 4))) {
        for (const auto offset : offsets) {
          at(base_ + static_cast<std::uint64_t>(static_cast<std::int64_t>(offset)));
        }
      }
    }
    // Every type decoded so far, with those it leads to (a *T's T, a struct's fields).
    for (const auto& [address, type] : by_address_) by_name_.emplace(type->name, type);
  }
  const auto found = by_name_.find(std::string(name));
  return found == by_name_.end() ? nullptr : found->second;
}

}  // namespace gostub::symbols
