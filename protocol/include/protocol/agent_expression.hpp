// gdb's agent expressions (the bytecode of "Agent Expressions" in the gdb manual), as gdb
// attaches them to Z0 packets for breakpoint conditions evaluated by the target. Validated
// once, when the breakpoint is inserted (known opcodes, operands and jump targets inside the
// expression, on instruction boundaries), and evaluated with bounded stack and step counts,
// (the same bytecode collects tracepoint data: trace ops and trace state variables)
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
  // The text of a `printf` (gdb's agent dprintf); dropped unless the context keeps it.
  virtual void print(std::string_view /*text*/) const {}
  // Tracepoint collection: the trace, trace_quick, trace16 and tracenz opcodes name memory to
  // keep in the trace frame (tracenz: up to the first NUL); false fails the expression. A
  // context that collects nothing (a breakpoint condition) accepts them.
  virtual bool collect_memory(std::uint64_t /*address*/, std::uint64_t /*length*/,
                              bool /*until_nul*/) const {
    return true;
  }
  // Trace state variables (getv, setv, tracev); nullopt/false: no such variable.
  virtual std::optional<std::int64_t> variable(std::uint32_t /*number*/) const {
    return std::nullopt;
  }
  virtual bool set_variable(std::uint32_t /*number*/, std::int64_t /*value*/) const {
    return false;
  }
  virtual bool collect_variable(std::uint32_t /*number*/) const { return false; }
};

class AgentExpression {
 public:
  // `bytecode` as it came in the packet (after "X len,", hex-decoded).
  static std::expected<AgentExpression, std::string> validate(std::string bytecode);

  // The value on top of the stack at `end`; an error (memory fault, stack over- or underflow,
  // division by zero, too many steps) when the expression cannot be evaluated.
  std::expected<std::int64_t, std::string> evaluate(const AgentContext& context) const;
  // Runs a breakpoint command (dprintf's printf): the stack may be empty at `end`.
  std::expected<void, std::string> execute(const AgentContext& context) const;

  std::string_view bytecode() const { return bytecode_; }

 private:
  explicit AgentExpression(std::string bytecode) : bytecode_(std::move(bytecode)) {}
  std::expected<std::optional<std::int64_t>, std::string> run(const AgentContext& context) const;
  std::string bytecode_;
};

// What a Z0 packet carries after KIND: conditions (";X len,HEX", gdb concatenates several
// with or without ';') and commands (";cmds:PERSIST,X len,HEX…", gdb's agent dprintf), each
// expression validated.
struct BreakpointAgentLists {
  std::vector<AgentExpression> conditions;
  std::vector<AgentExpression> commands;
  bool persist = false;  // the commands outlive the client (dprintf with disconnected tracing)
};
std::expected<BreakpointAgentLists, std::string> parse_breakpoint_agent_lists(
    std::string_view text);

// gdb's agent printf: FORMAT (a C format) with ARGS as the bytecode popped them (the first
// argument first). %s reads a NUL-terminated string from memory (at most 4096 bytes, or the
// precision); %d %i %u %x %X %o %c %p %% with flags, width, precision and h/hh/l/ll/z/j/t
// modifiers. Floating point is not supported (gdb never compiles it to bytecode): an error.
std::expected<std::string, std::string> format_agent_printf(std::string_view format,
                                                            std::span<const std::int64_t> args,
                                                            const AgentContext& context);

}  // namespace gostub::protocol
