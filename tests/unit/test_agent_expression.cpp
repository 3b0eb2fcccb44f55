#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <random>

#include "protocol/agent_expression.hpp"
#include "protocol/hex.hpp"

using gostub::protocol::AgentContext;
using gostub::protocol::AgentExpression;

namespace {

struct FakeThread : AgentContext {
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

std::expected<AgentExpression, std::string> compile(std::string_view spaced_hex) {
  std::string hex;
  for (const char c : spaced_hex) {
    if (c != ' ') hex += c;
  }
  return AgentExpression::validate(*gostub::protocol::from_hex(hex));
}

std::expected<std::int64_t, std::string> run(std::string_view spaced_hex,
                                             const FakeThread& thread = {}) {
  auto expression = compile(spaced_hex);
  REQUIRE(expression);
  return expression->evaluate(thread);
}

}  // namespace

// Bytecodes as in gdb's ax.def: add 02, sub 03, div_signed 05, ext 16, equal 13, less_signed 14,
// log_not 0e, ref32 19, if_goto 20, goto 21, const8 22, const16 23, reg 26, end 27, dup 28,
// pop 29, swap 2b.
TEST_CASE("agent expressions: conditions on registers and memory") {
  FakeThread thread;
  thread.registers[0] = 7;       // rax
  thread.registers[6] = 0x1000;  // rbp
  thread.memory[0x0ff8] = 0xfe;  // *(int32*)(rbp-8) == -2
  for (int i = 1; i < 4; ++i) thread.memory[0x0ff8 + i] = 0xff;
  CHECK(run("26 0000 22 07 13 27", thread).value() == 1);  // $rax == 7
  CHECK(run("26 0000 22 08 13 27", thread).value() == 0);  // $rax == 8
  CHECK(run("26 0000 22 09 14 27", thread).value() == 1);  // 7 < 9
  // *(int*)($rbp - 8) == -2: reg 6, const8 8, sub, ref32, ext 32, const8 2, ... sub from 0
  CHECK(run("26 0006 22 08 03 19 16 20 22 00 22 02 03 13 27", thread).value() == 1);
  CHECK(run("26 0006 22 08 03 19 27", thread).value() == 0xfffffffe);  // ref zero-extends
  CHECK(run("22 05 0e 27").value() == 0);
  CHECK(run("22 07 22 02 05 27").value() == 3);
  CHECK(run("22 01 22 02 2b 29 27").value() == 2);  // swap, pop
  // if_goto over a const: 1 -> jump to offset 8 (const8 9, end)
  CHECK(run("22 01 20 0008 22 05 27 22 09 27").value() == 9);
  CHECK(run("22 00 20 0008 22 05 27 22 09 27").value() == 5);
}

TEST_CASE("agent expressions: faults are errors, never crashes") {
  FakeThread thread;
  CHECK_FALSE(run("22 10 19 27", thread));  // unreadable memory
  CHECK_FALSE(run("26 0063 27", thread));   // no register 99
  CHECK_FALSE(run("22 01 22 00 05 27"));    // division by zero
  CHECK_FALSE(run("02 27"));                // stack underflow
  CHECK_FALSE(run("27"));                   // nothing to return
  CHECK_FALSE(run("21 0000 27"));           // a loop: bounded, then an error
  CHECK_FALSE(run("22 01 28 21 0002 27"));  // a growing loop: stack overflow
}

TEST_CASE("agent expressions: validation") {
  CHECK_FALSE(compile(""));
  CHECK_FALSE(compile("22"));          // operand past the end
  CHECK_FALSE(compile("22 01"));       // no end
  CHECK_FALSE(compile("01 27"));       // float: not offered
  CHECK_FALSE(compile("21 0001 27"));  // jump into an operand
  CHECK_FALSE(compile("21 0009 27"));  // jump past the end
  CHECK(compile("22 01 27"));
  // Random bytecode never crashes validation or evaluation.
  std::mt19937 random(7);
  FakeThread thread;
  thread.registers[0] = 1;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(1 + random() % 24, '\0');
    for (auto& byte : bytes) byte = static_cast<char>(random() % 0x36);
    bytes.back() = 0x27;
    if (const auto expression = AgentExpression::validate(bytes)) {
      (void)expression->evaluate(thread);
    }
  }
}
