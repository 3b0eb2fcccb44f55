#include "server/gdb_session.hpp"

#include <elf.h>
#include <fmt/core.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <regex>

#include "protocol/hex.hpp"
#include "protocol/signals.hpp"
#include "server/process_memory.hpp"
#include "server/target_description.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

using protocol::ThreadId;
namespace regno = target::regno;

constexpr std::string_view kEmpty;

// Signals passed to the program whatever the client's QPassSignals says. SIGURG is how Go's
// runtime preempts goroutines (several a second per busy thread): it means nothing to a user,
// and gdb 13 clears its pass list around every step-over, so reporting it derails the step
// and the client re-reports the breakpoint it was stepping over.
const std::set<int> kAlwaysPassed = {SIGURG};

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

constexpr std::string_view kMonitorHelp =
    "gostub monitor commands:\n"
    "  help         show this list\n"
    "  info         the Go binary: version, modules, build settings, symbol tables\n"
    "  eval EXPR    from the pclntab, so also on stripped binaries:\n"
    "                 re:REGEXP  functions whose names match\n"
    "                 addr:NAME  a function's address\n"
    "                 ADDRESS    function and file:line (hex 0x.., octal 0.., decimal)\n"
    "  catch [panic|throw|recovered-panic on|off]\n"
    "               stop where the program panics or dies of a fatal error (default: panic\n"
    "               and throw on); without arguments, show the settings\n"
    "  goroutines [-u] [-r] [-w REASON] [-n COUNT]\n"
    "               every goroutine: id, status or wait reason, location, thread; -u user\n"
    "               goroutines only, -r running ones, -w those whose wait reason has REASON\n"
    "  goroutine ID this goroutine's details and its stack, unwound from pclntab\n"
    "  set goroutine-threads on|off\n"
    "               show parked goroutines as threads too (ids 1000000000 + goroutine id),\n"
    "               for thread N, bt, frame, info locals; they cannot be resumed on their own\n"
    "  exit         end gostub (a launched program is killed, an attached one detached)\n";

std::optional<std::uint64_t> parse_c_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    const std::string copy(text);
    const auto value = std::stoull(copy, &used, 0);  // 0x…, 0…, or decimal, as C reads them
    if (used != copy.size()) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

GdbSession::GdbSession(target::Process& process, std::shared_ptr<Connection> connection,
                       Hooks hooks, GoSettings& settings, bool log_packets)
    : process_(&process),
      connection_(std::move(connection)),
      hooks_(std::move(hooks)),
      log_packets_(log_packets),
      settings_(settings) {
  if (process_->alive()) {
    // Like gdbserver: a launched program is stopped by exec's SIGTRAP, an attached one by SIGSTOP.
    last_stop_ = target::StopEvent{target::StopEvent::Kind::kSignal, process_->pid(),
                                   process_->attached() ? SIGSTOP : SIGTRAP, 0};
  }
  pass_signals_ = kAlwaysPassed;
  process_->set_pass_signals(kAlwaysPassed);
  apply_catches();
}

void GdbSession::on_packet(std::string_view payload) {
  // lldb names the thread of a register access at the end of the packet instead of with Hg.
  std::optional<ThreadId> suffix;
  if (thread_suffix_) suffix = protocol::take_thread_suffix(payload);
  auto command = protocol::parse_command(payload);
  if (!command) {
    if (log_packets_) fmt::print(stderr, "gostub: malformed packet: {}\n", command.error().message);
    connection_->send_packet(protocol::error_reply(EINVAL));
    return;
  }
  if (resume_outstanding_) {
    // All-stop: while the program runs, the client only interrupts. Anything else is a client
    // bug; answer it rather than touch a running process.
    connection_->send_packet(protocol::error_reply(EBUSY));
    return;
  }
  if (suffix && suffix->tid > 0 && !client_has_thread(suffix->tid)) {
    connection_->send_packet(protocol::error_reply(ESRCH));
    return;
  }
  const auto selected = general_thread_;
  if (suffix) general_thread_ = *suffix;
  auto reply = dispatch(*command);
  if (suffix) general_thread_ = selected;
  if (reply) connection_->send_packet(*reply);
}

void GdbSession::on_interrupt() {
  if (!resume_outstanding_) return;
  if (auto stop = process_->interrupt_all()) on_stop(*stop);
}

void GdbSession::on_stop(const target::StopEvent& raw_stop) {
  if (resume_outstanding_ && condition_false(raw_stop)) {
    // A conditional breakpoint whose condition is false: the client never hears of it. The
    // last resume was a plain continue; threads born since join it, signals are not resent.
    std::vector<target::ThreadAction> plan;
    for (const pid_t tid : process_->threads()) {
      plan.push_back({tid, target::ResumeKind::kContinue, 0});
    }
    auto resumed = process_->resume(plan);
    if (resumed && !*resumed) return;  // running again
    if (resumed) return on_stop(**resumed);
  }
  const auto stop = translate_catch(raw_stop);
  last_stop_ = stop;
  if (stop.kind == target::StopEvent::Kind::kExited) {
    fmt::print(stderr, "\nChild exited with status {}\n", stop.exit_code);
  } else if (stop.kind == target::StopEvent::Kind::kTerminated) {
    fmt::print(stderr, "\nChild terminated with signal = {:#x} ({})\n", stop.signal,
               sigabbrev_np(stop.signal) ? sigabbrev_np(stop.signal) : "?");
  } else {
    general_thread_ = ThreadId{std::nullopt, stop.tid};
  }
  other_stops_.clear();
  if (lldb_client_ && process_->alive()) {
    for (const auto& other : process_->take_pending_stops()) other_stops_.emplace(other.tid, other);
  }
  if (!resume_outstanding_) return;  // reported when the client asks (?)
  resume_outstanding_ = false;
  connection_->send_packet(stop_reply(stop));
}

namespace {

// Registers and memory of the thread that hit a conditional breakpoint.
class StoppedThread : public protocol::AgentContext {
 public:
  StoppedThread(const target::Process& process, std::string registers)
      : process_(process), registers_(std::move(registers)) {}
  std::optional<std::uint64_t> register_value(std::uint32_t regno) const override {
    const auto registers = target::x86_64_registers();
    if (regno >= registers.size() || registers[regno].bitsize > 64) return std::nullopt;
    return target::register_value(registers_, regno);
  }
  bool read_memory(std::uint64_t address, std::span<char> out) const override {
    const auto got = process_.read_memory_into(address, out);
    return got && *got == out.size();
  }

 private:
  const target::Process& process_;
  std::string registers_;
};

}  // namespace

bool GdbSession::condition_false(const target::StopEvent& stop) {
  if (stop.kind != target::StopEvent::Kind::kBreakpoint || conditions_.empty()) return false;
  // A step the client asked for must end in a report; a resume that left threads stopped
  // cannot be redone as "continue all". Only a plain continue of every thread is redone.
  if (!continued_all_) return false;
  const auto pc = process_->read_pc(stop.tid);
  if (!pc || catch_points_.contains(*pc)) return false;
  const auto found = conditions_.find(*pc);
  if (found == conditions_.end()) return false;
  auto registers = process_->read_registers(stop.tid);
  if (!registers) return false;
  const StoppedThread context(*process_, std::move(*registers));
  for (const auto& condition : found->second) {
    const auto value = condition.evaluate(context);
    // One that cannot be evaluated stops the program, as one that is true does.
    if (!value || *value != 0) {
      if (!value && log_packets_) {
        fmt::print(stderr, "gostub: condition at {:#x}: {}\n", *pc, value.error());
      }
      return false;
    }
  }
  return true;
}

GdbSession::Reply GdbSession::dispatch(const protocol::Command& command) {
  return std::visit([this](const auto& typed) { return handle(typed); }, command);
}

std::string GdbSession::error(const target::Error& error) const {
  if (log_packets_) fmt::print(stderr, "gostub: error: {}\n", error.message);
  return protocol::error_reply(error.code);
}

std::string GdbSession::thread_id(std::int64_t tid) const {
  return protocol::format_thread_id(process_->pid(), tid, multiprocess_);
}

bool GdbSession::names_process(const ThreadId& id) const {
  return !id.pid || *id.pid == ThreadId::kAll || *id.pid == ThreadId::kAny ||
         *id.pid == process_->pid();
}

std::optional<std::int64_t> GdbSession::selected_thread(const ThreadId& chosen) {
  if (!process_->alive()) return std::nullopt;
  if (chosen.tid > 0 && client_has_thread(chosen.tid)) return chosen.tid;
  if (last_stop_ && process_->has_thread(last_stop_->tid)) return last_stop_->tid;
  const auto tids = process_->threads();
  if (tids.empty()) return std::nullopt;
  return tids.front();
}

std::string GdbSession::stop_reply(const target::StopEvent& stop) {
  using Kind = target::StopEvent::Kind;
  protocol::StopReply reply;
  reply.pid = process_->pid();
  reply.tid = stop.tid;
  switch (stop.kind) {
    case Kind::kExited:
      reply.kind = protocol::StopReply::Kind::kExited;
      reply.exit_code = stop.exit_code;
      return protocol::encode_stop_reply(reply, multiprocess_);
    case Kind::kTerminated:
      reply.kind = protocol::StopReply::Kind::kTerminated;
      reply.signal = wire_signal(stop.signal);
      return protocol::encode_stop_reply(reply, multiprocess_);
    case Kind::kInterrupt:
      reply.signal = wire_signal(SIGINT);
      break;
    case Kind::kBreakpoint:
      reply.software_breakpoint = swbreak_;
      reply.signal = wire_signal(SIGTRAP);
      break;
    case Kind::kStepDone:
    case Kind::kSignal:
      reply.signal = wire_signal(stop.signal);
      break;
  }
  // No "core:": it costs a /proc read (3 system calls) per stop, ~10% of a breakpoint hit,
  // and neither gdb nor lldb needs it there (qXfer:threads still says each thread's core).
  if (lldb_client_ || threads_in_stop_reply_) add_lldb_stop_keys(reply, stop);
  if (auto file = process_->read_general_registers(stop.tid)) {
    const auto registers = target::x86_64_registers();
    for (const auto n : {regno::kRbp, regno::kRsp, regno::kRip}) {
      const auto& info = registers[n];
      reply.expedited.emplace_back(n, file->substr(info.offset, info.bitsize / 8));
    }
  }
  return protocol::encode_stop_reply(reply, multiprocess_);
}

GdbSession::Reply GdbSession::handle(const protocol::QuerySupported& command) {
  bool client_multiprocess = false;
  for (const auto& feature : command.features) {
    if (feature == "multiprocess+") client_multiprocess = true;
    if (feature == "swbreak+") swbreak_ = true;
    if (feature == "binary-upload+") binary_upload_ = true;
  }
  multiprocess_ = client_multiprocess;
  // Only what is implemented is advertised.
  std::string reply = fmt::format("PacketSize={:x};QStartNoAckMode+;swbreak+;", kMaxPacketSize);
  if (multiprocess_) reply += "multiprocess+;";
  if (binary_upload_) reply += "binary-upload+;";
  // native-signals+: lldb then reads signal numbers as Linux's (gdb ignores the feature).
  reply += "QThreadSuffixSupported+;QListThreadsInStopReply+;native-signals+;";
  reply +=
      "qXfer:features:read+;qXfer:threads:read+;qXfer:exec-file:read+;qXfer:auxv:read+;"
      "QPassSignals+;QProgramSignals+;ConditionalBreakpoints+;"
      "QEnvironmentHexEncoded+;QEnvironmentUnset+;QEnvironmentReset+;QSetWorkingDir+;"
      "QDisableRandomization+";
  return reply;
}

GdbSession::Reply GdbSession::handle(const protocol::StartNoAckMode&) {
  connection_->send_packet(protocol::kOk);  // still acknowledged; no acks from here on
  connection_->set_no_ack_mode();
  return std::nullopt;
}

int GdbSession::wire_signal(int signal) const {
  return lldb_client_ ? signal : protocol::gdb_signal_from_linux(signal);
}

int GdbSession::linux_signal(int signal) const {
  return lldb_client_ ? signal : protocol::linux_signal_from_gdb(signal);
}

std::optional<target::StopEvent> GdbSession::current_stop() const {
  if (!last_stop_) return std::nullopt;
  if (lldb_client_ && !resumed_yet_ && last_stop_->kind == target::StopEvent::Kind::kSignal) {
    // lldb plants a breakpoint at the entry point at connect; a SIGTRAP reported there reads
    // to it as a hit of that breakpoint, whose callback resumes the program. lldb-server
    // reports this first stop as SIGSTOP; so does gostub, to lldb.
    auto first = *last_stop_;
    first.signal = SIGSTOP;
    return first;
  }
  return last_stop_;
}

GdbSession::Reply GdbSession::handle(const protocol::QueryHaltReason&) {
  const auto stop = current_stop();
  if (!stop && !process_->alive()) {
    // No program yet: gdbserver says W00; lldb-server an error, which lldb reads as
    // "connected, ready to launch or attach" (W00 would read as a program that exited).
    return lldb_client_ ? protocol::error_reply(ESRCH) : std::string("W00");
  }
  if (!stop) return protocol::error_reply(ESRCH);
  return stop_reply(*stop);
}

GdbSession::Reply GdbSession::handle(const protocol::ReadRegisters&) {
  const auto tid = selected_thread(general_thread_);
  if (!tid) return protocol::error_reply(ESRCH);
  auto file = thread_registers(*tid);
  if (!file) return error(file.error());
  return protocol::to_hex(*file);
}

GdbSession::Reply GdbSession::handle(const protocol::WriteRegisters& command) {
  const auto tid = selected_thread(general_thread_);
  if (!tid) return protocol::error_reply(ESRCH);
  if (parked_goroutine(*tid)) return refuse_goroutine_thread(*tid);
  if (command.bytes.size() != target::register_file_size()) return protocol::error_reply(EINVAL);
  if (auto written = process_->write_registers(static_cast<pid_t>(*tid), command.bytes); !written) {
    return error(written.error());
  }
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::ReadRegister& command) {
  const auto registers = target::x86_64_registers();
  const auto tid = selected_thread(general_thread_);
  if (command.regno >= registers.size()) return protocol::error_reply(EINVAL);
  if (!tid) return protocol::error_reply(ESRCH);
  auto file = thread_registers(*tid);
  if (!file) return error(file.error());
  const auto& info = registers[command.regno];
  return protocol::to_hex(std::string_view(*file).substr(info.offset, info.bitsize / 8));
}

GdbSession::Reply GdbSession::handle(const protocol::WriteRegister& command) {
  const auto registers = target::x86_64_registers();
  const auto tid = selected_thread(general_thread_);
  if (command.regno >= registers.size()) return protocol::error_reply(EINVAL);
  if (!tid) return protocol::error_reply(ESRCH);
  if (parked_goroutine(*tid)) return refuse_goroutine_thread(*tid);
  const auto& info = registers[command.regno];
  if (command.bytes.size() != info.bitsize / 8u) return protocol::error_reply(EINVAL);
  auto file = process_->read_registers(static_cast<pid_t>(*tid));
  if (!file) return error(file.error());
  file->replace(info.offset, command.bytes.size(), command.bytes);
  if (auto written = process_->write_registers(static_cast<pid_t>(*tid), *file); !written)
    return error(written.error());
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::ReadMemory& command) {
  // Two hex digits a byte must fit the packet we advertised.
  const auto length = std::min<std::uint64_t>(command.length, (kMaxPacketSize - 16) / 2);
  if (length == 0) return std::string();
  memory_buffer_.resize(length);
  auto got = process_->read_memory_into(command.address, memory_buffer_);
  if (!got) return error(got.error());
  reply_buffer_.clear();
  protocol::append_hex(reply_buffer_, std::string_view(memory_buffer_).substr(0, *got));
  connection_->send_packet(reply_buffer_);  // from the reused buffer: no copy
  return std::nullopt;
}

GdbSession::Reply GdbSession::handle(const protocol::WriteMemory& command) {
  if (auto written = process_->write_memory(command.address, command.bytes); !written) {
    return error(written.error());
  }
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::InsertBreakpoint& command) {
  // Only software breakpoints; the empty reply tells gdb the other kinds are not offered.
  if (command.type != protocol::BreakpointType::kSoftware) return std::string();
  if (auto inserted = process_->insert_breakpoint(command.address); !inserted) {
    return error(inserted.error());
  }
  // gdb sends the whole condition list again whenever it changes, without a z0 first.
  if (command.conditions.empty()) {
    conditions_.erase(command.address);
  } else {
    conditions_[command.address] = command.conditions;
  }
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::RemoveBreakpoint& command) {
  if (command.type != protocol::BreakpointType::kSoftware) return std::string();
  if (auto removed = process_->remove_breakpoint(command.address); !removed) {
    return error(removed.error());
  }
  conditions_.erase(command.address);
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::QueryResumeActions&) {
  return std::string("vCont;c;C;s;S;t;r");
}

GdbSession::Reply GdbSession::handle(const protocol::Resume& command) {
  if (!process_->alive()) return protocol::error_reply(ESRCH);
  std::vector<protocol::ResumeAction> actions = command.actions;
  for (const auto& action : actions) {
    if (action.thread && action.thread->tid >= kGoroutineThreadBase &&
        action.kind != protocol::ResumeKind::kStop) {
      return refuse_goroutine_thread(action.thread->tid);
    }
  }
  if (command.legacy) {
    // c/C resume every thread; s/S step the thread chosen with Hc (else the current one).
    auto& action = actions.front();
    if (action.kind == protocol::ResumeKind::kStep) {
      const auto tid =
          selected_thread(continue_thread_.tid > 0 ? continue_thread_ : general_thread_);
      if (!tid) return protocol::error_reply(ESRCH);
      if (parked_goroutine(*tid)) return refuse_goroutine_thread(*tid);
      action.thread = ThreadId{std::nullopt, *tid};
    }
  }
  std::vector<target::ThreadAction> plan;
  for (const pid_t tid : process_->threads()) {
    for (const auto& action : actions) {
      const bool applies =
          !action.thread || (names_process(*action.thread) &&
                             (action.thread->tid == ThreadId::kAll || action.thread->tid == tid));
      if (!applies) continue;
      if (action.kind != protocol::ResumeKind::kStop) {
        plan.push_back({tid,
                        action.kind == protocol::ResumeKind::kStep ? target::ResumeKind::kStep
                                                                   : target::ResumeKind::kContinue,
                        linux_signal(action.signal), action.range_start, action.range_end});
      }
      break;  // the first action that names a thread is its action
    }
  }
  if (plan.empty()) return protocol::error_reply(EINVAL);
  other_stops_.clear();
  goroutines_.reset();
  thread_lists_.reset();
  continued_all_ = plan.size() == process_->threads().size() &&
                   std::all_of(plan.begin(), plan.end(), [](const target::ThreadAction& action) {
                     return action.kind == target::ResumeKind::kContinue;
                   });
  auto resumed = process_->resume(plan);
  if (!resumed) return error(resumed.error());
  resume_outstanding_ = true;
  resumed_yet_ = true;
  if (*resumed) on_stop(**resumed);  // a pending stop: nothing ran
  return std::nullopt;
}

GdbSession::Reply GdbSession::handle(const protocol::SetThread& command) {
  const auto& id = command.thread;
  if (id.tid > 0 && (!names_process(id) || !client_has_thread(id.tid))) {
    return protocol::error_reply(ESRCH);
  }
  (command.operation == 'g' ? general_thread_ : continue_thread_) = id;
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::QueryThreadListFirst&) {
  // No program yet: lldb takes an empty list for a process 1 that sent no stop, and gives up;
  // lldb-server says OK here, which lldb reads as "connected, ready to launch or attach".
  if (lldb_client_ && !process_->alive() && process_->pid() <= 0) {
    return std::string(protocol::kOk);
  }
  const auto tids = client_threads();
  if (tids.empty()) return std::string("l");
  std::string reply = "m";
  for (std::size_t i = 0; i < tids.size(); ++i) {
    if (i != 0) reply += ',';
    reply += thread_id(tids[i]);
  }
  return reply;
}

GdbSession::Reply GdbSession::handle(const protocol::QueryThreadListNext&) {
  return std::string("l");  // qfThreadInfo sent every thread at once
}

GdbSession::Reply GdbSession::handle(const protocol::QueryThreadAlive& command) {
  const auto& id = command.thread;
  if (id.tid > 0 && names_process(id) && client_has_thread(id.tid)) {
    return std::string(protocol::kOk);
  }
  return protocol::error_reply(ESRCH);
}

GdbSession::Reply GdbSession::handle(const protocol::QueryCurrentThread&) {
  const auto tid = selected_thread(general_thread_);
  if (!tid) return protocol::error_reply(ESRCH);
  return "QC" + thread_id(*tid);
}

GdbSession::Reply GdbSession::handle(const protocol::QueryAttached& command) {
  if (command.pid && *command.pid != process_->pid()) return protocol::error_reply(ESRCH);
  return std::string(process_->attached() ? "1" : "0");
}

std::string GdbSession::thread_display_name(std::int64_t tid) {
  if (const auto* goroutine = parked_goroutine(tid)) {
    return fmt::format("goroutine {} {} [{}]", goroutine->id,
                       goroutine_reader_->function_at(goroutine->start_pc),
                       goroutine_status(*goroutine));
  }
  if (const auto* runtime = go_runtime()) {
    if (const auto registers = process_->read_general_registers(static_cast<pid_t>(tid))) {
      const auto fs_base = target::register_value(*registers, target::regno::kFsBase);
      if (const auto goroutine = runtime->thread_goroutine(ProcessMemory(*process_), fs_base)) {
        return fmt::format("goroutine {} {}", goroutine->id, goroutine->start_function);
      }
    }
  }
  return process_->thread_name(static_cast<pid_t>(tid));
}

std::string GdbSession::threads_document() {
  std::string xml = "<?xml version=\"1.0\"?>\n<threads>\n";
  for (const auto tid : client_threads()) {
    xml += fmt::format("<thread id=\"{}\"", thread_id(tid));
    if (const int core =
            tid < kGoroutineThreadBase ? process_->thread_core(static_cast<pid_t>(tid)) : -1;
        core >= 0)
      xml += fmt::format(" core=\"{}\"", core);
    xml += fmt::format(" name=\"{}\"/>\n", xml_escape(thread_display_name(tid)));
  }
  xml += "</threads>\n";
  return xml;
}

GdbSession::Reply GdbSession::handle(const protocol::TransferRead& command) {
  const auto key = std::pair{command.object, command.annex};
  auto cached = transfer_cache_.find(key);
  if (command.offset == 0 || cached == transfer_cache_.end()) {
    std::string document;
    if (command.object == "features") {
      if (command.annex != "target.xml") return protocol::error_reply(ENOENT);
      document = lldb_client_ ? x86_64_target_xml_for_lldb() : x86_64_target_xml();
    } else if (command.object == "threads") {
      document = threads_document();
    } else if (command.object == "exec-file") {
      if (!process_->alive() && process_->executable().empty()) return protocol::error_reply(ESRCH);
      document = process_->executable();
    } else if (command.object == "auxv") {
      auto auxv = process_->auxv();
      if (!auxv) return error(auxv.error());
      document = std::move(*auxv);
    } else {
      return std::string();  // an object we do not offer
    }
    cached = transfer_cache_.insert_or_assign(key, std::move(document)).first;
  }
  return protocol::transfer_chunk(cached->second, command.offset, command.length);
}

GdbSession::Reply GdbSession::handle(const protocol::Kill& command) {
  if (command.pid && *command.pid != process_->pid()) return protocol::error_reply(ESRCH);
  if (process_->alive()) {
    last_stop_ = process_->kill();
  }
  // vKill is answered with OK. "k" has no reply for gdb, which does not wait for one; lldb
  // waits for the exit, as lldb-server sends it.
  if (command.pid) return std::string(protocol::kOk);
  if (lldb_client_ && last_stop_) return stop_reply(*last_stop_);
  return std::nullopt;
}

GdbSession::Reply GdbSession::handle(const protocol::Detach& command) {
  if (command.pid && *command.pid != process_->pid()) return protocol::error_reply(ESRCH);
  if (!process_->alive()) return protocol::error_reply(ESRCH);
  fmt::print(stderr, "Detaching from process {}\n", process_->pid());
  if (auto detached = process_->detach(); !detached) return error(detached.error());
  return std::string(protocol::kOk);
}

void GdbSession::send_console(std::string_view text) {
  // One O packet carries at most half the packet size of text (two hex digits a byte).
  constexpr std::size_t kChunk = (kMaxPacketSize - 16) / 2;
  for (std::size_t at = 0; at < text.size(); at += kChunk) {
    connection_->send_packet(protocol::console_output(text.substr(at, kChunk)));
  }
}

const symbols::GoBinary* GdbSession::go_binary(std::string& why_not) {
  if (!go_binary_ && go_binary_error_.empty()) {
    if (auto binary = symbols::GoBinary::open(process_->executable())) {
      go_binary_ = std::move(*binary);
    } else {
      go_binary_error_ = binary.error().message;
    }
  }
  why_not = go_binary_error_;
  return go_binary_ ? &*go_binary_ : nullptr;
}

std::uint64_t GdbSession::load_bias() {
  if (load_bias_) return *load_bias_;
  if (!go_binary_ || !go_binary_->image().position_independent()) return 0;
  const auto auxv = process_->auxv();
  if (!auxv) return 0;  // not cached: the process may be gone, or not be read yet
  load_bias_ = 0;
  for (std::size_t at = 0; at + 16 <= auxv->size(); at += 16) {
    std::uint64_t type, value;
    std::memcpy(&type, auxv->data() + at, 8);
    std::memcpy(&value, auxv->data() + at + 8, 8);
    if (type == AT_ENTRY) load_bias_ = value - go_binary_->image().entry();
  }
  return *load_bias_;
}

const symbols::GoRuntime* GdbSession::go_runtime() {
  const auto* reader = goroutine_reader();
  return reader != nullptr ? &reader->runtime() : nullptr;
}

std::string GdbSession::monitor_info() {
  std::string why_not;
  const auto* binary = go_binary(why_not);
  if (binary == nullptr) return fmt::format("gostub: {}\n", why_not);
  std::string out = binary->describe();
  out += fmt::format("process:\n\tpid\t{}\n\tthreads\t{}\n\tload bias\t{:#x}\n", process_->pid(),
                     process_->threads().size(), load_bias());
  if (const auto* all = goroutines(why_not)) {
    out += fmt::format("\tgoroutines\t{}, from {}\n", all->size(),
                       goroutine_reader_->allgs_description());
  } else {
    out += fmt::format("\tgoroutines\t{}\n", why_not);
  }
  return out;
}

std::string GdbSession::monitor_eval(std::string_view expression) {
  std::string why_not;
  const auto* binary = go_binary(why_not);
  if (binary == nullptr) return fmt::format("gostub: {}\n", why_not);
  const auto& lines = binary->lines();
  const auto bias = load_bias();
  if (expression.starts_with("re:")) {
    std::regex pattern;
    try {
      pattern = std::regex(std::string(expression.substr(3)), std::regex::extended);
    } catch (const std::regex_error& error) {
      return fmt::format("bad regular expression: {}\n", error.what());
    }
    std::string out;
    for (std::uint32_t i = 0; i < lines.function_count(); ++i) {
      const auto function = lines.function(i);
      if (!function) continue;
      const auto name = lines.name(*function);
      if (std::regex_search(name.begin(), name.end(), pattern)) {
        out += fmt::format("{:#x} {}\n", function->entry + bias, name);
      }
    }
    return out.empty() ? "no function matches\n" : out;
  }
  if (expression.starts_with("addr:")) {
    const auto function = lines.find_by_name(expression.substr(5));
    if (!function) return fmt::format("no function {}\n", expression.substr(5));
    return fmt::format("{:#x}\n", function->entry + bias);
  }
  if (expression.starts_with("val:")) {
    return "val: needs DWARF variable support, which gostub does not have yet\n";
  }
  const auto address = parse_c_number(expression);
  if (!address) return fmt::format("cannot evaluate '{}'; see 'monitor help'\n", expression);
  const auto link_address = *address - bias;
  const auto function = lines.find(link_address);
  if (!function) return fmt::format("{:#x} is in no Go function\n", *address);
  const auto line = lines.source_line(link_address);
  return fmt::format("{}+{:#x} {}:{}\n", lines.name(*function), link_address - function->entry,
                     line ? line->file : std::string_view("?"), line ? line->line : -1);
}

GdbSession::Reply GdbSession::handle(const protocol::MonitorCommand& command) {
  std::string_view text = command.text;
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text == "help") {
    send_console(kMonitorHelp);
    return std::string(protocol::kOk);
  }
  if (text == "info") {
    send_console(monitor_info());
    return std::string(protocol::kOk);
  }
  if (text == "catch" || text.starts_with("catch ")) {
    send_console(monitor_catch(text.substr(std::min<std::size_t>(text.size(), 6))));
    return std::string(protocol::kOk);
  }
  if (text == "goroutines" || text.starts_with("goroutines ")) {
    send_console(monitor_goroutines(text.substr(10)));
    return std::string(protocol::kOk);
  }
  if (text.starts_with("goroutine ")) {
    send_console(monitor_goroutine(text.substr(10)));
    return std::string(protocol::kOk);
  }
  if (text.starts_with("set ")) {
    send_console(monitor_set(text.substr(4)));
    return std::string(protocol::kOk);
  }
  if (text.starts_with("eval ")) {
    auto expression = text.substr(5);
    while (!expression.empty() && expression.front() == ' ') expression.remove_prefix(1);
    send_console(monitor_eval(expression));
    return std::string(protocol::kOk);
  }
  if (text == "exit") {
    connection_->send_packet(protocol::kOk);
    if (hooks_.request_exit) hooks_.request_exit();
    return std::nullopt;
  }
  send_console(fmt::format("Unknown monitor command '{}'; try 'monitor help'.\n", text));
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::QueryOffsets&) {
  // Like gdbserver on Linux: no offsets; gdb relocates a PIE program from auxv's AT_ENTRY.
  return std::string();
}

GdbSession::Reply GdbSession::handle(const protocol::QuerySymbol& command) {
  // A stripped binary has no runtime.allgs symbol; the client may have the unstripped one.
  constexpr std::string_view kAllgs = "runtime.allgs";
  const auto colon = command.payload.find(':');
  if (colon != std::string::npos && colon > 0 &&
      protocol::from_hex(command.payload.substr(colon + 1)) == kAllgs) {
    told_allgs_ = protocol::parse_hex_number(command.payload.substr(0, colon));
    if (told_allgs_ && goroutine_reader_) {
      goroutine_reader_->set_allgs_address(*told_allgs_ - load_bias());
    }
    return std::string(protocol::kOk);
  }
  std::string why_not;
  const auto* binary = go_binary(why_not);
  if (command.payload == ":" && !asked_for_allgs_ && binary != nullptr &&
      !binary->image().symbol(kAllgs)) {
    asked_for_allgs_ = true;
    return "qSymbol:" + protocol::to_hex(kAllgs);
  }
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::QueryTraceStatus&) {
  return std::string();  // no tracepoints
}

GdbSession::Reply GdbSession::handle(const protocol::PassSignals& command) {
  std::set<int> signals = kAlwaysPassed;
  for (const int gdb_signal : command.signals) {
    if (const int host = linux_signal(gdb_signal); host != 0) signals.insert(host);
  }
  pass_signals_ = signals;
  process_->set_pass_signals(std::move(signals));
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::ProgramSignals& command) {
  std::set<int> signals = kAlwaysPassed;  // Go's preemption must always reach the runtime
  for (const int wire : command.signals) {
    if (const int host = linux_signal(wire); host != 0) signals.insert(host);
  }
  program_signals_ = signals;
  process_->set_program_signals(std::move(signals));
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::EnableExtendedMode&) {
  extended_mode_ = true;
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::HostSetFs& command) {
  return host_files_.set_filesystem(command);
}
GdbSession::Reply GdbSession::handle(const protocol::HostOpen& command) {
  return host_files_.open(command);
}
GdbSession::Reply GdbSession::handle(const protocol::HostPread& command) {
  // Escaping can double the data; stay inside the packet size we advertised.
  return host_files_.pread(command, (kMaxPacketSize - 32) / 2);
}
GdbSession::Reply GdbSession::handle(const protocol::HostClose& command) {
  return host_files_.close(command);
}
GdbSession::Reply GdbSession::handle(const protocol::HostFstat& command) {
  return host_files_.fstat(command);
}
GdbSession::Reply GdbSession::handle(const protocol::HostReadlink& command) {
  return host_files_.readlink(command);
}

GdbSession::Reply GdbSession::handle(const protocol::Declined& command) {
  if (log_packets_) fmt::print(stderr, "gostub: declined: {}\n", command.reason);
  return std::string(kEmpty);
}

GdbSession::Reply GdbSession::handle(const protocol::Unknown&) {
  return std::string(kEmpty);
}

}  // namespace gostub::server
