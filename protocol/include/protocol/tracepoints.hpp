// gdb's tracepoint packets ("Tracepoint Packets" in the gdb manual's remote protocol appendix):
// definitions (QTDP, QTDPsrc, QTDV), the run (QTinit, QTStart, QTStop, QTBuffer, QTro,
// QTDisconnected, QTNotes, QTEnable/QTDisable), trace frame selection (QTFrame) and the
// queries (qTfP/qTsP, qTfV/qTsV, qTP, qTV). Typed commands only; what they mean is the
// server's. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/agent_expression.hpp"

namespace gostub::protocol {

// The actions of a tracepoint (QTDP:-N:ADDR:…), as gdb encodes `collect`.
struct TraceCollectRegisters {  // R MASK: gostub collects the whole register file
  std::string mask;             // as sent (hex), kept for qTsP
};
struct TraceCollectMemory {  // M BASEREG,OFFSET,LENGTH: LENGTH bytes at BASEREG + OFFSET
  static constexpr std::int32_t kAbsolute = -1;  // gdb sends -1 (FFFFFFFF): no register
  std::int32_t base_register = kAbsolute;
  std::int64_t offset = 0;  // two's complement on the wire
  std::uint64_t length = 0;
};
struct TraceEvaluate {  // X LEN,BYTES: bytecode whose trace ops name what to collect
  AgentExpression expression;
};
using TraceAction = std::variant<TraceCollectRegisters, TraceCollectMemory, TraceEvaluate>;

struct TraceInit {};  // QTinit: forget every tracepoint, variable and frame
// QTDP:N:ADDR:E|D:STEP:PASS[:FLEN][:XLEN,COND][-]
struct TraceDefine {
  std::uint32_t number = 0;
  std::uint64_t address = 0;
  bool enabled = true;
  std::uint64_t step = 0;  // while-stepping count
  std::uint64_t pass = 0;  // stop tracing after this many hits (0: never)
  bool fast = false;       // F: a fast tracepoint (gostub refuses them)
  std::optional<AgentExpression> condition;
  bool more = false;  // '-': actions follow in further QTDP packets
};
// QTDP:-N:ADDR:[S]ACTIONS[-]
struct TraceDefineActions {
  std::uint32_t number = 0;
  std::uint64_t address = 0;
  bool stepping = false;  // S: while-stepping actions
  std::vector<TraceAction> actions;
  std::string text;  // the actions as sent, for qTsP
  bool more = false;
};
// QTDPsrc:N:ADDR:TYPE:START:SLEN:BYTES (hex): a piece of the tracepoint's source text.
struct TraceSource {
  std::uint32_t number = 0;
  std::uint64_t address = 0;
  std::string type;  // "at", "cond" or "cmd"
  std::uint64_t start = 0;
  std::uint64_t length = 0;  // of the whole text
  std::string bytes;         // this piece, decoded
};
// QTDV:N:VALUE:BUILTIN:NAME (name hex)
struct TraceVariable {
  std::uint32_t number = 0;
  std::int64_t initial = 0;
  bool builtin = false;
  std::string name;
};
struct TraceStart {};  // QTStart
struct TraceStop {};   // QTStop
// QTFrame:N (N = ffffffff: no frame), QTFrame:pc:ADDR, QTFrame:tdp:T, QTFrame:range:LO:HI,
// QTFrame:outside:LO:HI.
struct TraceSelectFrame {
  enum class By : std::uint8_t { kNumber, kPc, kTracepoint, kRange, kOutside } by = By::kNumber;
  std::int64_t number = -1;          // kNumber (-1: back to the live program), kTracepoint
  std::uint64_t start = 0, end = 0;  // kPc (start), kRange, kOutside
};
struct TraceBufferSetting {  // QTBuffer:circular:0|1, QTBuffer:size:N|-1
  std::optional<bool> circular;
  std::optional<std::int64_t> size;  // -1: the default
};
struct TraceDisconnected {  // QTDisconnected:0|1
  bool keep_tracing = false;
};
struct TraceReadOnly {  // QTro:START,END[:START,END]...: the executable's read-only sections
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
};
struct TraceNotes {  // QTNotes:user:HEX;notes:HEX;tstop:HEX;
  std::optional<std::string> user, notes, stop;
};
struct TraceEnable {  // QTEnable:N:ADDR, QTDisable:N:ADDR
  std::uint32_t number = 0;
  std::uint64_t address = 0;
  bool enable = true;
};
struct QueryTracepointFirst {};     // qTfP
struct QueryTracepointNext {};      // qTsP
struct QueryTraceVariableFirst {};  // qTfV
struct QueryTraceVariableNext {};   // qTsV
struct QueryTracepointHits {        // qTP:N:ADDR
  std::uint32_t number = 0;
  std::uint64_t address = 0;
};
struct QueryTraceVariable {  // qTV:N
  std::uint32_t number = 0;
};

// The parsers, by the part after the packet name (as the command table calls them). The
// error is a message; nullopt never means success.
std::expected<TraceDefine, std::string> parse_trace_define(std::string_view args);
std::expected<TraceDefineActions, std::string> parse_trace_actions(std::string_view args);
std::expected<TraceSource, std::string> parse_trace_source(std::string_view args);
std::expected<TraceVariable, std::string> parse_trace_variable(std::string_view args);
std::expected<TraceSelectFrame, std::string> parse_trace_frame(std::string_view args);
std::expected<TraceBufferSetting, std::string> parse_trace_buffer(std::string_view args);
std::expected<TraceReadOnly, std::string> parse_trace_read_only(std::string_view args);
std::expected<TraceNotes, std::string> parse_trace_notes(std::string_view args);
std::expected<TraceEnable, std::string> parse_trace_enable(std::string_view args, bool enable);
std::expected<QueryTracepointHits, std::string> parse_tracepoint_hits(std::string_view args);

}  // namespace gostub::protocol
