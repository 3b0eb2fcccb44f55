// Tracepoint packets (protocol) and the trace state the server keeps (frames, buffer, status):
// the packets as gdb 13.1 sent them for `trace main.handle` / `collect $regs, req.ID` / tstart.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <map>

#include "protocol/commands.hpp"
#include "protocol/hex.hpp"
#include "protocol_fakes.hpp"
#include "server/trace.hpp"

using namespace gostub;
using namespace gostub::protocol;

namespace {

using testing::malformed;
using testing::parse_as;

// Registers and memory of a stopped thread: rax = 0xc000091e58, where a Request's ID is 7.
struct FakeThread : testing::FakeThread {
  FakeThread() {
    registers = {{0, 0xc000091e58}, {16, 0x4b7280}};
    for (std::uint64_t i = 0; i < 16; ++i) memory[0xc000091e58 + i] = i == 0 ? 7 : 0;
    for (std::uint64_t i = 0; i < 4; ++i) memory[0x5000 + i] = "ab\0c"[i];
  }
};

server::Trace defined_trace(std::string_view extra_action = {}) {
  server::Trace trace;
  REQUIRE(trace.define(parse_as<TraceDefine>("QTDP:1:00000000004b7280:E:0:0-")));
  REQUIRE(trace.add_actions(parse_as<TraceDefineActions>(
      "QTDP:-1:00000000004b7280:R0fffffffffffffffffffffffffffffffffffff-")));
  REQUIRE(trace.add_actions(
      parse_as<TraceDefineActions>("QTDP:-1:00000000004b7280:X00000009,2600002a4022080c27")));
  if (!extra_action.empty()) {
    REQUIRE(trace.add_actions(parse_as<TraceDefineActions>(std::string(extra_action))));
  }
  return trace;
}

std::string file(char fill) {
  return std::string(64, fill);
}

}  // namespace

TEST_CASE("QTDP: a tracepoint, its actions, source and variables as gdb 13.1 sends them") {
  const auto define = parse_as<TraceDefine>("QTDP:1:00000000004b7280:E:0:0-");
  CHECK(define.number == 1);
  CHECK(define.address == 0x4b7280);
  CHECK(define.enabled);
  CHECK(define.more);
  CHECK_FALSE(define.condition);
  const auto conditional = parse_as<TraceDefine>("QTDP:2:4b7280:D:0:5:X3,220127");
  CHECK_FALSE(conditional.enabled);
  CHECK(conditional.pass == 5);
  REQUIRE(conditional.condition);
  CHECK(conditional.condition->bytecode() == std::string("\x22\x01\x27"));
  CHECK(parse_as<TraceDefine>("QTDP:2:4b7280:E:0:0:F5:X3,220127").fast);
  CHECK(malformed("QTDP:1:4b7280:Q:0:0"));
  CHECK(malformed("QTDP:1:4b7280:E:0"));
  CHECK(malformed("QTDP:1:4b7280:E:0:0:X9,22"));    // length past the bytes
  CHECK(malformed("QTDP:1:4b7280:E:0:0:X2,2201"));  // no end opcode

  const auto registers =
      parse_as<TraceDefineActions>("QTDP:-1:00000000004b7280:R0fffffffffffffffffff-");
  CHECK(registers.more);
  REQUIRE(registers.actions.size() == 1);
  CHECK(std::holds_alternative<TraceCollectRegisters>(registers.actions[0]));
  const auto memory =
      parse_as<TraceDefineActions>("QTDP:-1:4b7280:M7,fffffffffffffff8,10MFFFFFFFF,5000,4");
  REQUIRE(memory.actions.size() == 2);
  const auto& on_stack = std::get<TraceCollectMemory>(memory.actions[0]);
  CHECK(on_stack.base_register == 7);
  CHECK(on_stack.offset == -8);
  CHECK(on_stack.length == 0x10);
  CHECK(std::get<TraceCollectMemory>(memory.actions[1]).base_register ==
        TraceCollectMemory::kAbsolute);
  CHECK(parse_as<TraceDefineActions>("QTDP:-1:4b7280:SR01").stepping);
  CHECK(malformed("QTDP:-1:4b7280:Q"));
  CHECK(malformed("QTDP:-1:4b7280:M7,8"));
  CHECK(malformed("QTDP:-1:4b7280:L"));

  const auto source = parse_as<TraceSource>("QTDPsrc:1:4b7280:at:0:b:6d61696e2e68616e646c65");
  CHECK(source.type == "at");
  CHECK(source.length == 0xb);
  CHECK(source.bytes == "main.handle");
  CHECK(malformed("QTDPsrc:1:4b7280:at:0:b:zz"));
  const auto variable =
      parse_as<TraceVariable>("QTDV:1:0000000000000000:1:74726163655f74696d657374616d70");
  CHECK(variable.builtin);
  CHECK(variable.name == "trace_timestamp");
  CHECK(malformed("QTDV:1:0"));
}

TEST_CASE("tracepoint run and query packets") {
  parse_as<TraceInit>("QTinit");
  parse_as<TraceStart>("QTStart");
  parse_as<TraceStop>("QTStop");
  CHECK(parse_as<TraceSelectFrame>("QTFrame:0").number == 0);
  CHECK(parse_as<TraceSelectFrame>("QTFrame:ffffffff").number == -1);
  const auto by_pc = parse_as<TraceSelectFrame>("QTFrame:pc:4b7280");
  CHECK(by_pc.by == TraceSelectFrame::By::kPc);
  CHECK(by_pc.start == 0x4b7280);
  CHECK(parse_as<TraceSelectFrame>("QTFrame:tdp:2").by == TraceSelectFrame::By::kTracepoint);
  const auto outside = parse_as<TraceSelectFrame>("QTFrame:outside:10:20");
  CHECK(outside.by == TraceSelectFrame::By::kOutside);
  CHECK(outside.end == 0x20);
  CHECK(malformed("QTFrame:range:10"));
  CHECK(malformed("QTFrame:zz"));
  CHECK(*parse_as<TraceBufferSetting>("QTBuffer:circular:1").circular);
  CHECK(*parse_as<TraceBufferSetting>("QTBuffer:size:-1").size == -1);
  CHECK(*parse_as<TraceBufferSetting>("QTBuffer:size:1000").size == 0x1000);
  CHECK(malformed("QTBuffer:circular:2"));
  CHECK(malformed("QTBuffer:colour:1"));
  CHECK(parse_as<TraceDisconnected>("QTDisconnected:1").keep_tracing);
  const auto read_only = parse_as<TraceReadOnly>(
      "QTro:0000000000401000,00000000004b86ba:00000000004b9000,00000000004e0f37");
  REQUIRE(read_only.ranges.size() == 2);
  CHECK(read_only.ranges[1].first == 0x4b9000);
  CHECK(malformed("QTro:20,10"));
  const auto notes = parse_as<TraceNotes>("QTNotes:user:6d65;notes:;tstop:6f6b;");
  CHECK(*notes.user == "me");
  CHECK(*notes.stop == "ok");
  CHECK_FALSE(parse_as<TraceEnable>("QTDisable:1:4b7280").enable);
  CHECK(parse_as<TraceEnable>("QTEnable:1:4b7280").enable);
  parse_as<QueryTracepointFirst>("qTfP");
  parse_as<QueryTracepointNext>("qTsP");
  parse_as<QueryTraceVariableFirst>("qTfV");
  parse_as<QueryTraceVariableNext>("qTsV");
  CHECK(parse_as<QueryTracepointHits>("qTP:1:4b7280").address == 0x4b7280);
  CHECK(parse_as<QueryTraceVariable>("qTV:3").number == 3);
  parse_as<Declined>("qTBuffer:0,10");
}

TEST_CASE("agent bytecode collects memory and trace state variables through the context") {
  struct Collecting : FakeThread {
    mutable std::vector<std::pair<std::uint64_t, std::uint64_t>> collected;
    mutable std::map<std::uint32_t, std::int64_t> variables{{1, 40}};
    bool collect_memory(std::uint64_t address, std::uint64_t length, bool) const override {
      collected.emplace_back(address, length);
      return true;
    }
    std::optional<std::int64_t> variable(std::uint32_t number) const override {
      if (!variables.contains(number)) return std::nullopt;
      return variables.at(number);
    }
    bool set_variable(std::uint32_t number, std::int64_t value) const override {
      variables[number] = value;
      return true;
    }
  } thread;
  // reg 0, zero_ext 64, const8 8, trace, end: gdb's `collect req.ID` on Go 1.19.
  auto trace = AgentExpression::validate(*from_hex("2600002a4022080c27"));
  REQUIRE(trace);
  CHECK(trace->execute(thread));
  REQUIRE(thread.collected.size() == 1);
  CHECK(thread.collected[0] == std::pair<std::uint64_t, std::uint64_t>{0xc000091e58, 8});
  // trace_quick 4 and trace16 0x100 keep the address on the stack.
  auto quick =
      AgentExpression::validate(*from_hex("2600000d04300100"
                                          "27"));
  REQUIRE(quick);
  CHECK(*quick->evaluate(thread) == 0xc000091e58);
  CHECK(thread.collected.size() == 3);
  CHECK(thread.collected[2].second == 0x100);
  // getv 1, const8 2, add, setv 1, end: $tsv = $tsv + 2.
  auto counter =
      AgentExpression::validate(*from_hex("2c000122020"
                                          "22d000127"));
  REQUIRE(counter);
  CHECK(*counter->evaluate(thread) == 42);
  CHECK(thread.variables[1] == 42);
  // An unknown variable fails; a plain context (a breakpoint condition) has none.
  CHECK_FALSE(AgentExpression::validate(*from_hex("2c000927"))->evaluate(thread));
  CHECK_FALSE(counter->evaluate(FakeThread{}));
}

TEST_CASE("a hit collects registers, memory and expressions into a frame") {
  auto trace = defined_trace("QTDP:-1:4b7280:M0,8,8MFFFFFFFF,5000,4");
  trace.start();
  CHECK(trace.running());
  CHECK(trace.addresses() == std::vector<std::uint64_t>{0x4b7280});
  const FakeThread thread;
  CHECK(trace.hit(0x4b7280, thread, [] { return file('r'); }) == 1);
  CHECK(trace.hit(0x999, thread, [] { return file('r'); }) == 0);
  REQUIRE(trace.frame_count() == 1);
  const auto* frame = trace.frame(0);
  CHECK(frame->registers == file('r'));
  CHECK(frame->read(0xc000091e58, 8) == std::string("\x07\0\0\0\0\0\0\0", 8));
  CHECK(frame->read(0xc000091e58, 16).size() == 16);  // two blocks, contiguous
  CHECK(frame->read(0x5000, 4) == std::string("ab\0c", 4));
  CHECK(frame->read(0x6000, 4).empty());
  CHECK(trace.frame_info(*frame) ==
        "<traceframe-info>\n<memory start=\"0xc000091e58\" length=\"0x8\"/>\n"
        "<memory start=\"0xc000091e60\" length=\"0x8\"/>\n"
        "<memory start=\"0x5000\" length=\"0x4\"/>\n</traceframe-info>\n");
  CHECK(trace.tracepoint_hits(1, 0x4b7280) == fmt::format("V1:{:x}", frame->size()));
  CHECK(trace.status().starts_with("T1;tnotrun:0;tframes:1;tcreated:1;"));
  trace.stop(server::Trace::StopReason::kCommand);
  CHECK(trace.status().starts_with("T0;tstop::0;tframes:1;"));
  // The frames outlive the run; the definitions come back for qTfP/qTsP.
  CHECK(trace.definition_lines() ==
        std::vector<std::string>{
            "T1:4b7280:E:0:0", "A1:4b7280:R0fffffffffffffffffffffffffffffffffffff",
            "A1:4b7280:X00000009,2600002a4022080c27", "A1:4b7280:M0,8,8MFFFFFFFF,5000,4"});
}

TEST_CASE("conditions, pass counts and disabled tracepoints") {
  server::Trace trace;
  // Condition: reg 0 (rax) == 0 is false for our thread.
  REQUIRE(
      trace.define(parse_as<TraceDefine>("QTDP:1:10:E:0:0:X7,2600002200132"
                                         "7")));
  REQUIRE(trace.define(parse_as<TraceDefine>("QTDP:2:20:E:0:3")));
  REQUIRE(trace.define(parse_as<TraceDefine>("QTDP:3:30:D:0:0")));
  CHECK_FALSE(trace.define(parse_as<TraceDefine>("QTDP:4:40:E:1:0")));  // while-stepping
  CHECK_FALSE(trace.add_actions(parse_as<TraceDefineActions>("QTDP:-9:10:R1")));
  CHECK(trace.addresses() == std::vector<std::uint64_t>{0x10, 0x20});
  trace.start();
  const FakeThread thread;
  const auto no_registers = [] { return std::optional<std::string>(); };
  CHECK(trace.hit(0x10, thread, no_registers) == 0);
  CHECK(trace.hit(0x30, thread, no_registers) == 0);
  for (int i = 0; i < 3; ++i) CHECK(trace.hit(0x20, thread, no_registers) == 1);
  CHECK_FALSE(trace.running());
  CHECK(trace.status().starts_with("T0;tpasscount:2;tframes:3;"));
  CHECK(trace.hit(0x20, thread, no_registers) == 0);  // stopped: nothing more
  CHECK(trace.frame(2)->registers.empty());
  CHECK(trace.frame(3) == nullptr);
  CHECK(trace.enable(parse_as<TraceEnable>("QTEnable:3:30")));
  CHECK(trace.addresses().size() == 3);
}

TEST_CASE("the frame buffer: bounded in bytes, full stops the run, circular drops the oldest") {
  auto trace = defined_trace();
  const FakeThread thread;
  const auto registers = [] { return file('r'); };
  const auto one = [&] {
    server::Trace probe = defined_trace();
    probe.start();
    probe.hit(0x4b7280, thread, registers);
    return probe.frame(0)->size();
  }();
  trace.set_buffer(parse_as<TraceBufferSetting>(fmt::format("QTBuffer:size:{:x}", 3 * one)));
  trace.start();
  for (int i = 0; i < 3; ++i) CHECK(trace.hit(0x4b7280, thread, registers) == 1);
  CHECK(trace.running());
  CHECK(trace.status().find(";tfree:0;") != std::string::npos);
  CHECK(trace.hit(0x4b7280, thread, registers) == 0);
  CHECK_FALSE(trace.running());
  CHECK(trace.status().starts_with("T0;tfull:0;tframes:3;tcreated:3;"));

  trace.set_buffer(parse_as<TraceBufferSetting>("QTBuffer:circular:1"));
  trace.start();
  for (int i = 0; i < 5; ++i) {
    auto moved = thread;
    moved.memory[0xc000091e58] = static_cast<std::uint8_t>(i);
    CHECK(trace.hit(0x4b7280, moved, registers) == 1);
  }
  CHECK(trace.running());
  CHECK(trace.frame_count() == 3);
  CHECK(trace.status().find(";tframes:3;tcreated:5;") != std::string::npos);
  CHECK(trace.frame(0)->read(0xc000091e58, 1) == std::string(1, '\2'));  // the oldest kept
  // The default size again: gdb's QTBuffer:size:-1.
  trace.set_buffer(parse_as<TraceBufferSetting>("QTBuffer:size:-1"));
  CHECK(trace.status().find(";tsize:500000;") != std::string::npos);
}

TEST_CASE("QTFrame searches go forward from the current frame") {
  server::Trace trace;
  REQUIRE(trace.define(parse_as<TraceDefine>("QTDP:1:10:E:0:0")));
  REQUIRE(trace.define(parse_as<TraceDefine>("QTDP:2:20:E:0:0")));
  trace.start();
  const FakeThread thread;
  const auto none = [] { return std::optional<std::string>(); };
  for (const auto address : {0x10, 0x20, 0x10, 0x20}) trace.hit(address, thread, none);
  CHECK(trace.find(parse_as<TraceSelectFrame>("QTFrame:3"), std::nullopt) == 3u);
  CHECK_FALSE(trace.find(parse_as<TraceSelectFrame>("QTFrame:4"), std::nullopt));
  CHECK(trace.find(parse_as<TraceSelectFrame>("QTFrame:pc:20"), std::nullopt) == 1u);
  CHECK(trace.find(parse_as<TraceSelectFrame>("QTFrame:pc:20"), 1u) == 3u);
  CHECK_FALSE(trace.find(parse_as<TraceSelectFrame>("QTFrame:pc:20"), 3u));
  CHECK(trace.find(parse_as<TraceSelectFrame>("QTFrame:tdp:1"), 0u) == 2u);
  CHECK(trace.find(parse_as<TraceSelectFrame>("QTFrame:range:18:30"), std::nullopt) == 1u);
  CHECK(trace.find(parse_as<TraceSelectFrame>("QTFrame:outside:18:30"), 1u) == 2u);
}
