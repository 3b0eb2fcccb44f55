// gdb's agent expressions (the bytecode of "Agent Expressions" in the gdb manual), as gdb
// attaches them to Z0 packets for breakpoint conditions evaluated by the target. Validated
// once, when the breakpoint is inserted (known opcodes, operands and jump targets inside the
// expression, on instruction boundaries), and evaluated with bounded stack and step counts,
// so that no expression can crash or hang the server. Pure: registers and memory come
// through AgentContext.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gostub::protocol {

class AgentContext {
 public:
  virtual ~AgentContext() = default;
  // gdb's register number; nullopt when there is no such register.
  virtual std::optional<std::uint64_t> register_value(std::uint32_t regno) const = 0;
  // Fills `out` from the program's memory; false when it cannot.
  virtual bool read_memory(std::uint64_t address, std::span<char> out) const = 0;
};

class AgentExpression {
 public:
  // `bytecode` as it came in the packet (after "X len,", hex-decoded).
  static std::expected<AgentExpression, std::string> validate(std::string bytecode);

  // The value on top of the stack at `end`; an error (memory fault, stack over- or underflow,
  // division by zero, too many steps) when the expression cannot be evaluated.
  std::expected<std::int64_t, std::string> evaluate(const AgentContext& context) const;

  std::string_view bytecode() const { return bytecode_; }

 private:
  explicit AgentExpression(std::string bytecode) : bytecode_(std::move(bytecode)) {}
  std::string bytecode_;
};

// A Z0 packet's ";X len,HEX;X len,HEX…" list (the part after KIND), each expression validated.
std::expected<std::vector<AgentExpression>, std::string> parse_conditions(std::string_view text);

}  // namespace gostub::protocol
