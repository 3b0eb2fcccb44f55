#include "protocol/tracepoints.hpp"

#include <tuple>

#include "protocol/hex.hpp"

namespace gostub::protocol {

namespace {

std::unexpected<std::string> fail(std::string message) {
  return std::unexpected(std::move(message));
}

// The next ':'-separated field of `text` (all of it when there is no ':'); `text` moves past it.
std::string_view take_field(std::string_view& text, char separator = ':') {
  const auto at = text.find(separator);
  const auto field = text.substr(0, at);
  text.remove_prefix(at == std::string_view::npos ? text.size() : at + 1);
  return field;
}

// QTDP's trailing '-': more packets for this tracepoint follow. Taken off `text`.
bool take_more_mark(std::string_view& text) {
  if (!text.ends_with("-")) return false;
  text.remove_suffix(1);
  return true;
}

std::optional<std::uint32_t> parse_number32(std::string_view text) {
  const auto value = parse_hex_number(text);
  if (!value || *value > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(*value);
}

// A hex number gdb may write with a leading '-' ("QTBuffer:size:-1").
std::optional<std::int64_t> parse_signed(std::string_view text) {
  const bool negative = text.starts_with("-");
  if (negative) text.remove_prefix(1);
  const auto value = parse_hex_number(text);
  if (!value) return std::nullopt;
  const auto out = static_cast<std::int64_t>(*value);
  return negative ? -out : out;
}

// "X LEN,BYTES" at the start of `text` (no 'X'): the expression; `text` moves past it.
std::expected<AgentExpression, std::string> take_bytecode(std::string_view& text) {
  const auto comma = text.find(',');
  if (comma == std::string_view::npos) return fail("expected X LEN,BYTES");
  const auto length = parse_hex_number(text.substr(0, comma));
  text.remove_prefix(comma + 1);
  if (!length || *length > text.size() / 2) return fail("expression length does not match");
  auto bytes = from_hex(text.substr(0, *length * 2));
  if (!bytes) return fail("expression bytes are not hex");
  text.remove_prefix(*length * 2);
  return AgentExpression::validate(std::move(*bytes));
}

// N:ADDR at the start of a definition; `args` moves past it.
std::optional<std::pair<std::uint32_t, std::uint64_t>> take_number_address(std::string_view& args) {
  const auto number = parse_number32(take_field(args));
  const auto address = parse_hex_number(take_field(args));
  if (!number || !address) return std::nullopt;
  return std::pair{*number, *address};
}

}  // namespace

std::expected<TraceDefine, std::string> parse_trace_define(std::string_view args) {
  TraceDefine out;
  out.more = take_more_mark(args);
  const auto head = take_number_address(args);
  if (!head) return fail("QTDP: expected N:ADDR");
  std::tie(out.number, out.address) = *head;
  const auto enabled = take_field(args);
  if (enabled != "E" && enabled != "D") return fail("QTDP: expected E or D");
  out.enabled = enabled == "E";
  const auto step = parse_hex_number(take_field(args));
  const auto pass = parse_hex_number(take_field(args));
  if (!step || !pass) return fail("QTDP: expected STEP:PASS");
  out.step = *step;
  out.pass = *pass;
  while (!args.empty()) {
    if (args.front() == 'F') {
      args.remove_prefix(1);
      if (!parse_hex_number(take_field(args))) return fail("QTDP: bad F field");
      out.fast = true;
    } else if (args.front() == 'X') {
      args.remove_prefix(1);
      auto condition = take_bytecode(args);
      if (!condition) return fail("QTDP: bad condition: " + condition.error());
      out.condition = std::move(*condition);
      if (!args.empty() && args.front() == ':') args.remove_prefix(1);
    } else if (args.front() == 'S') {  // a static tracepoint (gdb's strace)
      return fail("QTDP: static tracepoints are not offered");
    } else {
      return fail("QTDP: unknown field");
    }
  }
  return out;
}

std::expected<TraceDefineActions, std::string> parse_trace_actions(std::string_view args) {
  TraceDefineActions out;
  out.more = take_more_mark(args);
  const auto head = take_number_address(args);
  if (!head) return fail("QTDP: expected -N:ADDR");
  std::tie(out.number, out.address) = *head;
  out.text = std::string(args);
  if (args.starts_with("S")) {
    out.stepping = true;
    args.remove_prefix(1);
  }
  while (!args.empty()) {
    const char kind = args.front();
    args.remove_prefix(1);
    switch (kind) {
      case 'R': {
        std::size_t digits = 0;
        while (digits < args.size() && hex_digit_value(args[digits]) >= 0) ++digits;
        if (digits == 0) return fail("QTDP: R without a mask");
        out.actions.emplace_back(TraceCollectRegisters{std::string(args.substr(0, digits))});
        args.remove_prefix(digits);
        break;
      }
      case 'M': {
        // BASEREG,OFFSET,LENGTH; BASEREG -1 (FFFFFFFF) for an absolute address.
        const auto base = parse_signed(take_field(args, ','));
        const auto offset = parse_hex_number(take_field(args, ','));
        std::size_t digits = 0;
        while (digits < args.size() && hex_digit_value(args[digits]) >= 0) ++digits;
        const auto length = parse_hex_number(args.substr(0, digits));
        if (!base || !offset || !length) return fail("QTDP: expected M BASEREG,OFFSET,LENGTH");
        args.remove_prefix(digits);
        const auto register_number = static_cast<std::int32_t>(static_cast<std::uint32_t>(*base));
        out.actions.emplace_back(TraceCollectMemory{
            register_number < 0 ? TraceCollectMemory::kAbsolute : register_number,
            static_cast<std::int64_t>(*offset), *length});
        break;
      }
      case 'X': {
        auto expression = take_bytecode(args);
        if (!expression) return fail("QTDP: bad expression: " + expression.error());
        out.actions.emplace_back(TraceEvaluate{std::move(*expression)});
        break;
      }
      case 'L':
        return fail("QTDP: static trace data is not offered");
      default:
        return fail("QTDP: unknown action");
    }
  }
  return out;
}

std::expected<TraceSource, std::string> parse_trace_source(std::string_view args) {
  TraceSource out;
  const auto head = take_number_address(args);
  if (!head) return fail("QTDPsrc: expected N:ADDR");
  std::tie(out.number, out.address) = *head;
  out.type = std::string(take_field(args));
  const auto start = parse_hex_number(take_field(args));
  const auto length = parse_hex_number(take_field(args));
  auto bytes = from_hex(args);
  if (out.type.empty() || !start || !length || !bytes) {
    return fail("QTDPsrc: expected TYPE:START:LEN:BYTES");
  }
  out.start = *start;
  out.length = *length;
  out.bytes = std::move(*bytes);
  return out;
}

std::expected<TraceVariable, std::string> parse_trace_variable(std::string_view args) {
  const auto number = parse_number32(take_field(args));
  const auto initial = parse_hex_number(take_field(args));
  const auto builtin = parse_hex_number(take_field(args));
  auto name = from_hex(args);
  if (!number || !initial || !builtin || !name) {
    return fail("QTDV: expected N:VALUE:BUILTIN:NAME");
  }
  return TraceVariable{*number, static_cast<std::int64_t>(*initial), *builtin != 0,
                       std::move(*name)};
}

std::expected<TraceSelectFrame, std::string> parse_trace_frame(std::string_view args) {
  TraceSelectFrame out;
  const auto word = take_field(args);
  if (word == "pc" || word == "tdp") {
    const auto value = parse_hex_number(args);
    if (!value) return fail("QTFrame: expected a number");
    if (word == "pc") {
      out.by = TraceSelectFrame::By::kPc;
      out.start = out.end = *value;
    } else {
      out.by = TraceSelectFrame::By::kTracepoint;
      out.number = static_cast<std::int64_t>(*value);
    }
    return out;
  }
  if (word == "range" || word == "outside") {
    const auto start = parse_hex_number(take_field(args));
    const auto end = parse_hex_number(args);
    if (!start || !end) return fail("QTFrame: expected LO:HI");
    out.by = word == "range" ? TraceSelectFrame::By::kRange : TraceSelectFrame::By::kOutside;
    out.start = *start;
    out.end = *end;
    return out;
  }
  if (!args.empty()) return fail("QTFrame: unknown form");
  // gdb writes -1 as an int in hex (ffffffff); "-1" is taken too.
  const auto number = parse_signed(word);
  if (!number) return fail("QTFrame: expected a frame number");
  out.number = *number == 0xffffffff ? -1 : *number;
  if (out.number < -1) return fail("QTFrame: bad frame number");
  return out;
}

std::expected<TraceBufferSetting, std::string> parse_trace_buffer(std::string_view args) {
  TraceBufferSetting out;
  const auto word = take_field(args);
  if (word == "circular") {
    if (args != "0" && args != "1") return fail("QTBuffer:circular: neither 0 nor 1");
    out.circular = args == "1";
    return out;
  }
  if (word == "size") {
    const auto size = parse_signed(args);
    if (!size || *size < -1) return fail("QTBuffer:size: bad size");
    out.size = *size;
    return out;
  }
  return fail("QTBuffer: unknown setting");
}

std::expected<TraceReadOnly, std::string> parse_trace_read_only(std::string_view args) {
  TraceReadOnly out;
  while (!args.empty()) {
    auto range = take_field(args);
    const auto start = parse_hex_number(take_field(range, ','));
    const auto end = parse_hex_number(range);
    if (!start || !end || *end < *start) return fail("QTro: expected START,END");
    out.ranges.emplace_back(*start, *end);
  }
  return out;
}

std::expected<TraceNotes, std::string> parse_trace_notes(std::string_view args) {
  TraceNotes out;
  while (!args.empty()) {
    auto item = take_field(args, ';');
    const auto name = take_field(item);
    auto value = from_hex(item);
    if (!value) return fail("QTNotes: values are hex");
    if (name == "user") {
      out.user = std::move(*value);
    } else if (name == "notes") {
      out.notes = std::move(*value);
    } else if (name == "tstop") {
      out.stop = std::move(*value);
    }  // others are ignored, as gdbserver does
  }
  return out;
}

std::expected<TraceEnable, std::string> parse_trace_enable(std::string_view args, bool enable) {
  const auto head = take_number_address(args);
  if (!head || !args.empty()) return fail("QTEnable/QTDisable: expected N:ADDR");
  return TraceEnable{head->first, head->second, enable};
}

std::expected<QueryTracepointHits, std::string> parse_tracepoint_hits(std::string_view args) {
  const auto head = take_number_address(args);
  if (!head || !args.empty()) return fail("qTP: expected N:ADDR");
  return QueryTracepointHits{head->first, head->second};
}

}  // namespace gostub::protocol
