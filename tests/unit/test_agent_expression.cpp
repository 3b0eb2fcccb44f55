#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <random>

#include "protocol/agent_expression.hpp"
#include "protocol/hex.hpp"
#include "protocol_fakes.hpp"

using gostub::protocol::AgentContext;
using gostub::protocol::AgentExpression;

namespace {

using gostub::testing::FakeThread;

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

namespace {

struct PrintingThread : FakeThread {
  mutable std::string printed;
  void print(std::string_view text) const override { printed += text; }
};

std::string hex_of(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += kDigits[static_cast<std::uint8_t>(c) >> 4];
    out += kDigits[static_cast<std::uint8_t>(c) & 15];
  }
  return out;
}

}  // namespace

TEST_CASE("agent printf: gdb's dprintf bytecode prints its arguments, first one first") {
  // What gdb 13 compiles for dprintf LOC,"x=%d y=%lx\n", 7, 255: the arguments last first,
  // then channel and function, printf nargs=2 with the format (NUL included), end.
  const std::string format = "x=%d y=%lx\n";
  const auto code = std::string("\x22\xff", 2) + std::string("\x22\x07", 2) +
                    std::string("\x22\x00", 2) + std::string("\x22\x00", 2) + "\x34\x02" + '\0' +
                    static_cast<char>(format.size() + 1) + format + '\0' + "\x27";
  auto expression = AgentExpression::validate(code);
  REQUIRE(expression.has_value());
  PrintingThread thread;
  REQUIRE(expression->execute(thread).has_value());
  CHECK(thread.printed == "x=7 y=ff\n");
  CHECK_FALSE(expression->evaluate(thread).has_value());  // no value left: not a condition
}

TEST_CASE("agent printf: a format that runs past the expression or lacks its NUL is refused") {
  CHECK_FALSE(AgentExpression::validate(std::string("\x34\x00\x00\x05"
                                                    "ab",
                                                    6))
                  .has_value());
  CHECK_FALSE(AgentExpression::validate(std::string("\x34\x00\x00\x02"
                                                    "ab\x27",
                                                    7))
                  .has_value());
  CHECK_FALSE(AgentExpression::validate(std::string("\x34\x00", 2)).has_value());
}

TEST_CASE("agent printf conversions") {
  using gostub::protocol::format_agent_printf;
  PrintingThread thread;
  for (std::uint64_t i = 0; i < 6; ++i) thread.memory[0x1000 + i] = "hello"[i];
  const auto format = [&](std::string_view text, std::vector<std::int64_t> args) {
    auto out = format_agent_printf(text, args, thread);
    return out ? *out : "error: " + out.error();
  };
  CHECK(format("%d %i %u", {-1, 42, -1}) == "-1 42 4294967295");
  CHECK(format("%ld %lld %lu", {-1, -2, -1}) == "-1 -2 18446744073709551615");
  CHECK(format("%hhd %hd %hx", {0x1ff, 0x18000, 0x12345}) == "-1 -32768 2345");
  CHECK(format("%5d|%-5d|%05x|%#x|%+d", {42, 42, 42, 42, 42}) == "   42|42   |0002a|0x2a|+42");
  CHECK(format("%c%c %o %X %%", {'o', 'k', 8, 255}) == "ok 10 FF %");
  CHECK(format("%p %p", {0, 0x1000}) == "(nil) 0x1000");
  CHECK(format("[%s] [%.3s] [%8s]", {0x1000, 0x1000, 0x1000}) == "[hello] [hel] [   hello]");
  CHECK(format("%s", {0x2000}).starts_with("error: cannot read"));
  CHECK(format("%d %d", {1}) == "error: too few printf arguments");
  CHECK(format("%f", {1}).starts_with("error: unsupported printf conversion"));
  CHECK(format("%", {}).starts_with("error:"));
  CHECK(format("a\\tb\\n\\101\\\\", {}) == "a\tb\nA\\");
}

TEST_CASE("Z0 agent lists: conditions and dprintf commands as gdb sends them") {
  using gostub::protocol::parse_breakpoint_agent_lists;
  const std::string command =
      std::string("\x22\x01\x22\x00\x22\x00\x34\x00\x00\x02", 10) + "x" + '\0' + "\x27";
  // gdb writes lengths in hex: 0xd == 13 bytes.
  const auto gdb_text = ";X3,220127;cmds:1,Xd," + hex_of(command) + "Xd," + hex_of(command);
  auto lists = parse_breakpoint_agent_lists(gdb_text);
  REQUIRE(lists.has_value());
  CHECK(lists->conditions.size() == 1);
  CHECK(lists->commands.size() == 2);
  CHECK(lists->persist);
  // Conditions concatenated without ';' (several breakpoints at one address).
  auto two = parse_breakpoint_agent_lists(";X3,220127X3,220027");
  REQUIRE(two.has_value());
  CHECK(two->conditions.size() == 2);
  CHECK_FALSE(lists->commands.empty());
  for (const auto* bad : {";cmds:", ";cmds:0", ";cmds:0,X", ";cmds:0,X5,22", ";X3,2201",
                          ";X3,zz0127", ";Y3,220127", ";cmds:q,X3,220127"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_breakpoint_agent_lists(bad).has_value());
  }
}
