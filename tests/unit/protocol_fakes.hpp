// What the protocol-level unit tests share: parsing a payload as one command, and a stopped
// thread made of maps (registers by gdb number, memory byte by byte) for agent expressions.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string_view>

#include "protocol/agent_expression.hpp"
#include "protocol/commands.hpp"

namespace gostub::testing {

template <typename T>
T parse_as(std::string_view payload) {
  auto command = protocol::parse_command(payload);
  REQUIRE_MESSAGE(command.has_value(), payload);
  REQUIRE_MESSAGE(std::holds_alternative<T>(*command), payload);
  return std::get<T>(*command);
}

inline bool malformed(std::string_view payload) {
  return !protocol::parse_command(payload).has_value();
}

struct FakeThread : protocol::AgentContext {
  std::map<std::uint32_t, std::uint64_t> registers;
  std::map<std::uint64_t, std::uint8_t> memory;
  std::optional<std::uint64_t> register_value(std::uint32_t regno) const override {
    const auto found = registers.find(regno);
    if (found == registers.end()) return std::nullopt;
    return found->second;
  }
  bool read_memory(std::uint64_t address, std::span<char> out) const override {
    for (std::size_t i = 0; i < out.size(); ++i) {
      const auto found = memory.find(address + i);
      if (found == memory.end()) return false;
      out[i] = static_cast<char>(found->second);
    }
    return true;
  }
};

}  // namespace gostub::testing
