#include "server/trace.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "protocol/hex.hpp"

namespace gostub::server {

namespace {

// gdbserver's block sizes: a frame header (tracepoint number, data length), 'R' + the register
// file, 'M' + address + length + bytes, 'V' + number + value.
constexpr std::size_t kFrameHeader = 2 + 4;
constexpr std::size_t kMemoryHeader = 1 + 8 + 2;
constexpr std::size_t kVariableBlock = 1 + 4 + 8;
// At most this much is collected by one block (tracenz and trace with a runaway size).
constexpr std::uint64_t kMaxBlock = 65535;

// The thread as a tracepoint's actions see it: its registers and memory, and the frame the
// trace ops fill.
class Collector : public protocol::AgentContext {
 public:
  Collector(const protocol::AgentContext& thread, TraceFrame& frame, Trace::Variables& variables)
      : thread_(thread), frame_(frame), variables_(variables) {}
  std::optional<std::uint64_t> register_value(std::uint32_t regno) const override {
    return thread_.register_value(regno);
  }
  bool read_memory(std::uint64_t address, std::span<char> out) const override {
    return thread_.read_memory(address, out);
  }
  bool collect_memory(std::uint64_t address, std::uint64_t length, bool until_nul) const override {
    length = std::min(length, kMaxBlock);
    std::string bytes(length, '\0');
    if (!until_nul) {
      if (!thread_.read_memory(address, bytes)) return false;
    } else {
      // A string: byte by byte up to the NUL (kept) or `length`, in 64-byte reads.
      std::size_t got = 0;
      while (got < length) {
        std::array<char, 64> chunk{};
        const auto want = std::min<std::size_t>(chunk.size(), length - got);
        if (!thread_.read_memory(address + got, std::span(chunk.data(), want))) break;
        const auto nul = std::find(chunk.begin(), chunk.begin() + want, '\0');
        const auto take =
            static_cast<std::size_t>(nul - chunk.begin()) + (nul != chunk.begin() + want);
        std::copy_n(chunk.begin(), take, bytes.begin() + got);
        got += take;
        if (nul != chunk.begin() + want) break;
      }
      if (got == 0) return false;
      bytes.resize(got);
    }
    frame_.memory.emplace_back(address, std::move(bytes));
    return true;
  }
  std::optional<std::int64_t> variable(std::uint32_t number) const override {
    const auto found = variables_.find(number);
    if (found == variables_.end()) return std::nullopt;
    return found->second.value;
  }
  bool set_variable(std::uint32_t number, std::int64_t value) const override {
    const auto found = variables_.find(number);
    if (found == variables_.end()) return false;
    found->second.value = value;
    return true;
  }
  bool collect_variable(std::uint32_t number) const override {
    const auto value = variable(number);
    if (!value) return false;
    frame_.variables.emplace_back(number, *value);
    return true;
  }

 private:
  const protocol::AgentContext& thread_;
  TraceFrame& frame_;
  Trace::Variables& variables_;
};

bool contains_range(std::uint64_t start, std::uint64_t end, std::uint64_t address) {
  return address >= start && address <= end;
}

}  // namespace

std::size_t TraceFrame::size() const {
  std::size_t out = kFrameHeader;
  if (!registers.empty()) out += 1 + registers.size();
  for (const auto& block : memory) out += kMemoryHeader + block.second.size();
  out += variables.size() * kVariableBlock;
  return out;
}

std::string TraceFrame::read(std::uint64_t from, std::uint64_t length) const {
  std::string out;
  // Contiguous blocks from `from` on (a struct collected in pieces reads whole).
  for (bool grew = true; grew && out.size() < length;) {
    grew = false;
    const auto at = from + out.size();
    for (const auto& [start, bytes] : memory) {
      if (at < start || at >= start + bytes.size()) continue;
      const auto take = std::min<std::uint64_t>(length - out.size(), start + bytes.size() - at);
      out.append(bytes, at - start, take);
      grew = true;
      break;
    }
  }
  return out;
}

void Trace::clear() {
  // QTinit: gdb sends every definition again before QTStart. The frames of the last run are
  // kept until the next start (gdbserver keeps them too: tstatus still counts them).
  tracepoints_.clear();
  variables_.clear();
  read_only_.clear();
}

Tracepoint* Trace::find_tracepoint(std::uint32_t number, std::uint64_t address) {
  for (auto& each : tracepoints_) {
    if (each.number == number && each.address == address) return &each;
  }
  return nullptr;
}

std::expected<void, std::string> Trace::define(const protocol::TraceDefine& definition) {
  if (definition.fast) return std::unexpected("fast tracepoints are not offered");
  if (definition.step != 0) {
    return std::unexpected("while-stepping is not offered: gostub collects at the hit only");
  }
  Tracepoint tracepoint;
  tracepoint.number = definition.number;
  tracepoint.address = definition.address;
  tracepoint.enabled = definition.enabled;
  tracepoint.step = definition.step;
  tracepoint.pass = definition.pass;
  tracepoint.condition = definition.condition;
  if (auto* known = find_tracepoint(definition.number, definition.address)) {
    *known = std::move(tracepoint);
  } else {
    tracepoints_.push_back(std::move(tracepoint));
  }
  return {};
}

std::expected<void, std::string> Trace::add_actions(const protocol::TraceDefineActions& actions) {
  auto* tracepoint = find_tracepoint(actions.number, actions.address);
  if (tracepoint == nullptr) return std::unexpected("no such tracepoint");
  if (actions.stepping) {
    return std::unexpected("while-stepping is not offered: gostub collects at the hit only");
  }
  tracepoint->actions.insert(tracepoint->actions.end(), actions.actions.begin(),
                             actions.actions.end());
  tracepoint->action_texts.push_back(actions.text);
  return {};
}

std::expected<void, std::string> Trace::add_source(const protocol::TraceSource& source) {
  auto* tracepoint = find_tracepoint(source.number, source.address);
  if (tracepoint == nullptr) return std::unexpected("no such tracepoint");
  tracepoint->sources.push_back(fmt::format("{}:{:x}:{:x}:{}", source.type, source.start,
                                            source.length, protocol::to_hex(source.bytes)));
  return {};
}

void Trace::define_variable(const protocol::TraceVariable& variable) {
  variables_[variable.number] =
      Variable{variable.initial, std::nullopt, variable.builtin, variable.name};
}

std::expected<void, std::string> Trace::enable(const protocol::TraceEnable& enable) {
  auto* tracepoint = find_tracepoint(enable.number, enable.address);
  if (tracepoint == nullptr) return std::unexpected("no such tracepoint");
  tracepoint->enabled = enable.enable;
  return {};
}

void Trace::set_buffer(const protocol::TraceBufferSetting& setting) {
  if (setting.circular) circular_ = *setting.circular;
  if (setting.size) {
    buffer_size_ = *setting.size < 0 ? kDefaultBufferSize : static_cast<std::size_t>(*setting.size);
  }
  // A smaller buffer drops the oldest frames at once (circular) or keeps them until the next
  // start: the frames already collected are never cut.
  while (circular_ && used_ > buffer_size_ && !frames_.empty()) {
    used_ -= frames_.front().size();
    frames_.pop_front();
  }
}

void Trace::set_notes(const protocol::TraceNotes& notes) {
  if (notes.user) user_ = *notes.user;
  if (notes.notes) notes_ = *notes.notes;
  if (notes.stop) stop_notes_ = *notes.stop;
}

void Trace::start() {
  frames_.clear();
  used_ = 0;
  created_ = 0;
  for (auto& tracepoint : tracepoints_) tracepoint.hits = tracepoint.bytes = 0;
  for (auto& [number, variable] : variables_) variable.value = variable.initial;
  running_ = true;
  stop_reason_ = StopReason::kNotRun;
  stopping_tracepoint_ = 0;
  start_time_ = now_microseconds();
  stop_time_ = 0;
}

void Trace::stop(StopReason reason, std::uint32_t tracepoint) {
  if (!running_) return;
  running_ = false;
  stop_reason_ = reason;
  stopping_tracepoint_ = tracepoint;
  stop_time_ = now_microseconds();
}

std::vector<std::uint64_t> Trace::addresses() const {
  std::vector<std::uint64_t> out;
  for (const auto& tracepoint : tracepoints_) {
    if (tracepoint.enabled && std::find(out.begin(), out.end(), tracepoint.address) == out.end()) {
      out.push_back(tracepoint.address);
    }
  }
  return out;
}

bool Trace::traces(std::uint64_t address) const {
  return std::any_of(tracepoints_.begin(), tracepoints_.end(), [&](const Tracepoint& each) {
    return each.enabled && each.address == address;
  });
}

int Trace::hit(std::uint64_t address, const protocol::AgentContext& thread,
               const RegisterFileReader& register_file) {
  int collected = 0;
  for (auto& tracepoint : tracepoints_) {
    if (!running_) break;
    if (!tracepoint.enabled || tracepoint.address != address) continue;
    TraceFrame frame{tracepoint.number, address, {}, {}, {}};
    const Collector collector(thread, frame, variables_);
    if (tracepoint.condition) {
      // A condition that cannot be evaluated counts as false (gdbserver stops the run with
      // terror; a Go nil pointer in a condition would then end the trace).
      const auto value = tracepoint.condition->evaluate(collector);
      if (!value || *value == 0) continue;
    }
    ++tracepoint.hits;
    for (const auto& action : tracepoint.actions) {
      if (std::holds_alternative<protocol::TraceCollectRegisters>(action)) {
        if (frame.registers.empty()) {
          if (auto file = register_file()) frame.registers = std::move(*file);
        }
      } else if (const auto* memory = std::get_if<protocol::TraceCollectMemory>(&action)) {
        std::uint64_t base = 0;
        if (memory->base_register != protocol::TraceCollectMemory::kAbsolute) {
          const auto value =
              thread.register_value(static_cast<std::uint32_t>(memory->base_register));
          if (!value) continue;
          base = *value;
        }
        (void)collector.collect_memory(base + static_cast<std::uint64_t>(memory->offset),
                                       memory->length, false);
      } else if (const auto* expression = std::get_if<protocol::TraceEvaluate>(&action)) {
        // What it could not read is simply not in the frame (gdb shows it <unavailable>).
        (void)expression->expression.execute(collector);
      }
    }
    const auto size = frame.size();
    if (!store(std::move(frame))) {
      stop(StopReason::kFull);
      break;
    }
    tracepoint.bytes += size;
    ++collected;
    if (tracepoint.pass != 0 && tracepoint.hits >= tracepoint.pass) {
      stop(StopReason::kPassCount, tracepoint.number);
    }
  }
  return collected;
}

bool Trace::store(TraceFrame frame) {
  const auto size = frame.size();
  if (size > buffer_size_) return false;
  if (used_ + size > buffer_size_) {
    if (!circular_) return false;
    while (used_ + size > buffer_size_ && !frames_.empty()) {
      used_ -= frames_.front().size();
      frames_.pop_front();
    }
  }
  used_ += size;
  ++created_;
  frames_.push_back(std::move(frame));
  return true;
}

const TraceFrame* Trace::frame(std::int64_t number) const {
  if (number < 0 || static_cast<std::size_t>(number) >= frames_.size()) return nullptr;
  return &frames_[static_cast<std::size_t>(number)];
}

std::optional<std::size_t> Trace::find(const protocol::TraceSelectFrame& how,
                                       std::optional<std::size_t> current) const {
  using By = protocol::TraceSelectFrame::By;
  if (how.by == By::kNumber) {
    if (frame(how.number) == nullptr) return std::nullopt;
    return static_cast<std::size_t>(how.number);
  }
  // The searches go forward from the frame after the current one, as gdbserver's.
  for (std::size_t i = current ? *current + 1 : 0; i < frames_.size(); ++i) {
    const auto& each = frames_[i];
    const bool match = how.by == By::kPc ? each.address == how.start
                       : how.by == By::kTracepoint
                           ? each.tracepoint == static_cast<std::uint64_t>(how.number)
                       : how.by == By::kRange ? contains_range(how.start, how.end, each.address)
                                              : !contains_range(how.start, how.end, each.address);
    if (match) return i;
  }
  return std::nullopt;
}

bool Trace::read_only(std::uint64_t address, std::uint64_t length) const {
  return std::any_of(read_only_.begin(), read_only_.end(), [&](const auto& range) {
    return address >= range.first && address + length <= range.second;
  });
}

std::string Trace::status() const {
  std::string reason;
  switch (running_ ? StopReason::kNotRun : stop_reason_) {
    case StopReason::kNotRun:
      reason = "tnotrun:0";
      break;
    case StopReason::kCommand:
      reason = fmt::format("tstop:{}:0", protocol::to_hex(stop_notes_));
      break;
    case StopReason::kFull:
      reason = "tfull:0";
      break;
    case StopReason::kPassCount:
      reason = fmt::format("tpasscount:{:x}", stopping_tracepoint_);
      break;
    case StopReason::kDisconnected:
      reason = "tdisconnected:0";
      break;
  }
  return fmt::format(
      "T{};{};tframes:{:x};tcreated:{:x};tfree:{:x};tsize:{:x};circular:{};disconn:{};"
      "starttime:{:x};stoptime:{:x};username:{};notes:{}",
      running_ ? 1 : 0, reason, frames_.size(), created_,
      buffer_size_ > used_ ? buffer_size_ - used_ : 0, buffer_size_, circular_ ? 1 : 0,
      disconnected_tracing_ ? 1 : 0, start_time_, stop_time_, protocol::to_hex(user_),
      protocol::to_hex(notes_));
}

std::vector<std::string> Trace::definition_lines() const {
  std::vector<std::string> out;
  for (const auto& tracepoint : tracepoints_) {
    auto line = fmt::format("T{:x}:{:x}:{}:{:x}:{:x}", tracepoint.number, tracepoint.address,
                            tracepoint.enabled ? 'E' : 'D', tracepoint.step, tracepoint.pass);
    if (tracepoint.condition) {
      const auto code = tracepoint.condition->bytecode();
      line += fmt::format(":X{:x},{}", code.size(), protocol::to_hex(code));
    }
    out.push_back(std::move(line));
    for (const auto& text : tracepoint.action_texts) {
      out.push_back(fmt::format("A{:x}:{:x}:{}", tracepoint.number, tracepoint.address, text));
    }
    for (const auto& source : tracepoint.sources) {
      out.push_back(fmt::format("Z{:x}:{:x}:{}", tracepoint.number, tracepoint.address, source));
    }
  }
  return out;
}

std::vector<std::string> Trace::variable_lines() const {
  std::vector<std::string> out;
  for (const auto& [number, variable] : variables_) {
    out.push_back(fmt::format("{:x}:{:x}:{}:{}", number,
                              static_cast<std::uint64_t>(variable.initial),
                              variable.builtin ? 1 : 0, protocol::to_hex(variable.name)));
  }
  return out;
}

std::optional<std::string> Trace::tracepoint_hits(std::uint32_t number,
                                                  std::uint64_t address) const {
  for (const auto& each : tracepoints_) {
    if (each.number == number && each.address == address) {
      return fmt::format("V{:x}:{:x}", each.hits, each.bytes);
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> Trace::variable_value(std::uint32_t number) const {
  const auto found = variables_.find(number);
  if (found == variables_.end()) return std::nullopt;
  return found->second.value;
}

std::string Trace::frame_info(const TraceFrame& frame) const {
  std::string out = "<traceframe-info>\n";
  for (const auto& [address, bytes] : frame.memory) {
    out += fmt::format("<memory start=\"{:#x}\" length=\"{:#x}\"/>\n", address, bytes.size());
  }
  for (const auto& [number, value] : frame.variables)
    out += fmt::format("<tvar id=\"{}\"/>\n", number);
  out += "</traceframe-info>\n";
  return out;
}

std::uint64_t Trace::now_microseconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace gostub::server
