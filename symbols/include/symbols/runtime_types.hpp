// Go types from the runtime's own type data (internal/abi.Type, runtime._type before 1.21),
// which every Go binary keeps, stripped or not: the dynamic types of interface values, and
// `(TYPE)ADDR` in a binary without DWARF. The descriptors of moduledata's [types, etypes) are
// read from the program once, then decoded from that copy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "symbols/go_runtime.hpp"
#include "symbols/go_types.hpp"

namespace gostub::symbols {

class RuntimeTypes {
 public:
  RuntimeTypes(const GoRuntime& runtime, const MemoryReader& memory)
      : runtime_(runtime), memory_(memory) {}

  // The type whose descriptor is at this runtime address; nullptr when it cannot be read.
  const GoType* at(std::uint64_t address);
  // A type by the name the runtime gives it ("main.Request", "*main.Request", "[]int"), from
  // the types moduledata's typelinks lead to; nullptr when there is none.
  const GoType* named(std::string_view name);
  // Why the type data could not be read, when it could not.
  const std::string& error() const { return error_; }

 private:
  bool load();
  std::optional<std::string> name_at(std::uint64_t address) const;  // an abi.Name
  template <typename T>
  std::optional<T> get(std::uint64_t address) const;

  const GoRuntime& runtime_;
  const MemoryReader& memory_;
  bool loaded_ = false, indexed_ = false;
  std::string error_;
  std::uint64_t base_ = 0;
  std::string section_;  // [types, etypes)
  TypeArena arena_;
  std::unordered_map<std::uint64_t, const GoType*> by_address_;
  std::unordered_map<std::string, const GoType*> by_name_;
};

}  // namespace gostub::symbols
