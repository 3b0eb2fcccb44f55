// Tracepoints, as gdb drives them (trace, actions, tstart, tstop, tstatus, tfind, tdump): the
// session's side. Definitions, frames and the run are the program's (`Trace`); the session
// keeps which frame the client looks at, and answers g, p and m from it meanwhile.
#include <fmt/core.h>

#include <cerrno>

#include "protocol/hex.hpp"
#include "protocol/replies.hpp"
#include "server/debug_log.hpp"
#include "server/gdb_session.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

Reply refused(std::string message) {
  return Reply::failure(Failure::told(EINVAL, std::move(message)));
}

Reply no_program() {
  return Reply::failure(Failure::told(ESRCH, "tracepoints need a running program"));
}

}  // namespace

GdbSession::~GdbSession() {
  // gdb's `set disconnected-tracing off` (the default): a client that leaves ends the run.
  for (auto* each : programs_.live()) {
    if (each->trace().running() && !each->trace().disconnected_tracing()) {
      each->stop_tracing(Trace::StopReason::kDisconnected);
    }
  }
}

const TraceFrame* GdbSession::trace_frame() const {
  if (!trace_frame_ || program() == nullptr) return nullptr;
  return program()->trace().frame(static_cast<std::int64_t>(*trace_frame_));
}

Reply GdbSession::no_writes_in_trace_frame() {
  return Reply::failure(
      Failure::told(EPERM, "a trace frame is selected: its data cannot be changed (tfind none)"));
}

Reply GdbSession::trace_frame_registers(const TraceFrame& frame,
                                        std::optional<std::uint32_t> regno) const {
  const auto registers = target::x86_64_registers();
  std::string hex;
  if (!frame.registers.empty()) {
    hex = protocol::to_hex(frame.registers);
  } else {
    // Registers not collected read as unavailable ('x'), except the pc: the tracepoint's
    // address (as gdbserver answers).
    hex.assign(target::register_file_size() * 2, 'x');
    const auto& rip = registers[target::regno::kRip];
    const auto pc = protocol::to_hex(
        std::string_view(reinterpret_cast<const char*>(&frame.address), sizeof frame.address));
    hex.replace(rip.offset * 2, pc.size(), pc);
  }
  if (!regno) return Reply::packet(std::move(hex));
  if (*regno >= registers.size()) {
    if (go_register(*regno)) return Reply::packet(std::string(16, 'x'));  // goid, g: not kept
    return Reply::error(EINVAL);
  }
  const auto& info = registers[*regno];
  return Reply::packet(hex.substr(info.offset * 2, info.bitsize / 4));
}

Reply GdbSession::trace_frame_memory(const TraceFrame& frame, std::uint64_t address,
                                     std::uint64_t length) {
  const auto bytes = frame.read(address, std::min<std::uint64_t>(length, kMaxReplyData));
  // Not collected: gdb knows from traceframe-info and shows <unavailable>.
  if (bytes.empty()) return Reply::error(EIO);
  return Reply::packet(protocol::to_hex(bytes));
}

Reply GdbSession::traceframe_info(const protocol::TransferRead& command) {
  const auto* frame = trace_frame();
  if (frame == nullptr) return Reply::error(EINVAL);
  return Reply::packet(protocol::transfer_chunk(program()->trace().frame_info(*frame),
                                                command.offset, command.length));
}

Reply GdbSession::handle(const protocol::QueryTraceStatus&) {
  if (program() == nullptr) return Reply::packet(Trace().status());
  return Reply::packet(program()->trace().status());
}

Reply GdbSession::handle(const protocol::TraceInit&) {
  if (program() == nullptr) return no_program();
  program()->trace().clear();
  trace_frame_.reset();
  return Reply::ok();
}

// A tracepoint defined while tracing (InstallInTrace) goes in once its last packet has come.
Reply GdbSession::installed_when_complete(bool more) {
  if (more) return Reply::ok();
  if (auto updated = program()->update_tracing(); !updated) return Reply::error(updated.error());
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::TraceDefine& command) {
  if (program() == nullptr) return no_program();
  if (auto defined = program()->trace().define(command); !defined) {
    return refused(defined.error());
  }
  return installed_when_complete(command.more);
}

Reply GdbSession::handle(const protocol::TraceDefineActions& command) {
  if (program() == nullptr) return no_program();
  if (auto added = program()->trace().add_actions(command); !added) return refused(added.error());
  return installed_when_complete(command.more);
}

Reply GdbSession::handle(const protocol::TraceSource& command) {
  if (program() == nullptr) return no_program();
  if (auto added = program()->trace().add_source(command); !added) return refused(added.error());
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::TraceVariable& command) {
  if (program() == nullptr) return no_program();
  program()->trace().define_variable(command);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::TraceStart&) {
  if (program() == nullptr || !program()->alive()) return no_program();
  trace_frame_.reset();
  if (auto started = program()->start_tracing(); !started) {
    return Reply::failure(Failure::told(started.error().code, started.error().message));
  }
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::TraceStop&) {
  if (program() == nullptr) return no_program();
  program()->stop_tracing(Trace::StopReason::kCommand);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::TraceSelectFrame& command) {
  if (program() == nullptr) return no_program();
  if (command.by == protocol::TraceSelectFrame::By::kNumber && command.number == -1) {
    trace_frame_.reset();  // back to the live program
    return Reply::ok();
  }
  const auto& trace = program()->trace();
  const auto found = trace.find(command, trace_frame_);
  if (!found) return Reply::packet("F-1");
  trace_frame_ = *found;
  return Reply::packet(fmt::format("F{:x}T{:x}", *found, trace.frame(*found)->tracepoint));
}

Reply GdbSession::handle(const protocol::TraceBufferSetting& command) {
  if (program() == nullptr) return no_program();
  program()->trace().set_buffer(command);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::TraceDisconnected& command) {
  if (program() == nullptr) return no_program();
  program()->trace().set_disconnected_tracing(command.keep_tracing);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::TraceReadOnly& command) {
  if (program() == nullptr) return no_program();
  program()->trace().set_read_only(command);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::TraceNotes& command) {
  if (program() == nullptr) return no_program();
  program()->trace().set_notes(command);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::TraceEnable& command) {
  if (program() == nullptr) return no_program();
  if (auto done = program()->trace().enable(command); !done) return refused(done.error());
  if (auto updated = program()->update_tracing(); !updated) return Reply::error(updated.error());
  return Reply::ok();
}

Reply GdbSession::next_line(std::vector<std::string>& lines) {
  if (lines.empty()) return Reply::packet("l");
  auto line = std::move(lines.front());
  lines.erase(lines.begin());
  return Reply::packet(std::move(line));
}

Reply GdbSession::handle(const protocol::QueryTracepointFirst&) {
  trace_lines_ =
      program() != nullptr ? program()->trace().definition_lines() : std::vector<std::string>{};
  return next_line(trace_lines_);
}

Reply GdbSession::handle(const protocol::QueryTracepointNext&) {
  return next_line(trace_lines_);
}

Reply GdbSession::handle(const protocol::QueryTraceVariableFirst&) {
  trace_lines_ =
      program() != nullptr ? program()->trace().variable_lines() : std::vector<std::string>{};
  return next_line(trace_lines_);
}

Reply GdbSession::handle(const protocol::QueryTraceVariableNext&) {
  return next_line(trace_lines_);
}

Reply GdbSession::handle(const protocol::QueryTracepointHits& command) {
  if (program() == nullptr) return no_program();
  auto hits = program()->trace().tracepoint_hits(command.number, command.address);
  if (!hits) return refused("no such tracepoint");
  return Reply::packet(std::move(*hits));
}

Reply GdbSession::handle(const protocol::QueryTraceVariable& command) {
  // "U": unknown (never set, or no such variable), as gdbserver answers.
  if (program() == nullptr) return Reply::packet("U");
  const auto value = program()->trace().variable_value(command.number);
  if (!value) return Reply::packet("U");
  return Reply::packet(fmt::format("V{:x}", static_cast<std::uint64_t>(*value)));
}

}  // namespace gostub::server
