#include "server/gdb_session.hpp"

#include <fmt/core.h>
#include <signal.h>

#include <cerrno>

#include "protocol/hex.hpp"
#include "protocol/replies.hpp"
#include "server/debug_log.hpp"
#include "server/thread_local_storage.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

using protocol::ThreadId;

void log_resume(pid_t pid, const target::ThreadAction& action) {
  debug_log().print(DebugLog::Component::kThreads, "resume process {} thread {}: {} signal {}", pid,
                    action.tid, action.kind == target::ResumeKind::kStep ? "step" : "continue",
                    action.signal);
}

}  // namespace

GdbSession::GdbSession(Programs& programs, std::shared_ptr<PacketSink> sink, Hooks hooks,
                       GoSettings& settings, SessionOptions options)
    : programs_(programs),
      sink_(std::move(sink)),
      hooks_(std::move(hooks)),
      disabled_(options.disabled),
      monitor_(settings),
      launch_settings_(std::move(options.launch)) {}

void GdbSession::on_packet(std::string_view payload) {
  last_packet_ = std::chrono::steady_clock::now();
  // lldb names the thread of a register access at the end of the packet instead of with Hg.
  std::optional<ThreadId> suffix;
  if (profile_.thread_suffix()) suffix = protocol::take_thread_suffix(payload);
  auto command = protocol::parse_command(payload);
  if (!command) {
    debug_log().print(DebugLog::Component::kRemote, "malformed packet: {}",
                      command.error().message);
    return send(Reply::error(EINVAL));
  }
  if (resume_outstanding_ && !non_stop_) {
    // All-stop: while the program runs, the client only interrupts. Anything else is a client
    // bug; answer it rather than touch a running process.
    return send(Reply::error(EBUSY));
  }
  if (suffix && suffix->tid > 0) {
    const auto thread = ClientThread::from_wire(suffix->tid);
    if (program() == nullptr || !program()->has_thread(*thread)) return send(Reply::error(ESRCH));
  }
  const auto selected = general_thread_;
  if (suffix) general_thread_ = *suffix;
  const auto reply = dispatch(*command);
  if (suffix) general_thread_ = selected;
  send(reply);
}

Reply GdbSession::dispatch(const protocol::Command& command) {
  return std::visit([this](const auto& typed) { return handle(typed); }, command);
}

void GdbSession::send(const Reply& reply) {
  switch (reply.kind()) {
    case Reply::Kind::kPacket:
      sink_->send_packet(reply.payload());
      break;
    case Reply::Kind::kFailure:
      if (!reply.failure().message.empty()) {
        debug_log().print(DebugLog::Component::kRemote, "error: {}", reply.failure().message);
      }
      sink_->send_packet(profile_.error_reply(reply.failure()));
      break;
    case Reply::Kind::kSent:
    case Reply::Kind::kStopLater:
    case Reply::Kind::kNone:
      break;
  }
}

void GdbSession::on_interrupt() {
  if (!resume_outstanding_) {
    // Ctrl-C that crossed a stop reply (gdb single-stepping for a software watchpoint sends it
    // while it waits for a step): as gdbserver, SIGINT to the program, pending until it runs
    // again, so the Ctrl-C is not lost. lldb sends none outside a run.
    if (auto* current = program(); current != nullptr && current->alive() && !profile_.lldb()) {
      (void)current->signal_interrupt();
    }
    return;
  }
  // The current program's stop is told when it ran; on_stop stops the others.
  for (auto* running : programs_.live()) {
    if (!running->running()) continue;
    if (auto report = running->interrupt()) return on_stop(*running, *report);
  }
}

void GdbSession::on_program_output(Program& running) {
  const auto text = running.take_console_output();
  // O packets only while the client waits for a stop reply (all-stop); otherwise nobody reads
  // (non-stop: see on_console).
  if (!text.empty() && resume_outstanding_) send_console(text);
}

bool GdbSession::on_console(std::string_view text) {
  if (resume_outstanding_) {
    send_console(text);
    return true;
  }
  // Non-stop: gdb reads an O packet that comes while it waits for no reply (its event loop
  // takes it with the notifications), but one that crosses a packet of its own is read as that
  // packet's reply. gdbserver sends none; gostub sends its message only to a client quiet for
  // half a second (at its prompt), which makes the crossing unlikely, not impossible.
  if (non_stop_ &&
      std::chrono::steady_clock::now() - last_packet_ > std::chrono::milliseconds(500)) {
    send_console(text);
    return true;
  }
  return false;  // asked again at the next look
}

void GdbSession::on_stop(const StopReport& report) {
  if (auto* current = program()) on_stop(*current, report);
}

void GdbSession::on_stop(Program& stopped, const StopReport& report) {
  if (non_stop_) return on_stop_non_stop(stopped, report);
  // What the program printed before it stopped comes first.
  if (auto text = stopped.take_console_output(); !text.empty() && resume_outstanding_) {
    send_console(text);
  }
  const auto& stop = report.stop;
  if (stop.kind == target::StopEvent::Kind::kNoResumed) {
    // "N" only when nothing runs anywhere, and only to a client that reads it.
    const bool others_run = programs_.any_live([](const Program& each) { return each.running(); });
    if (!resume_outstanding_ || others_run || !profile_.no_resumed()) return;
    resume_outstanding_ = false;
    sink_->send_packet(stop_replies_.stop_reply(stopped, stop));
    return;
  }
  keep_fork_child(stopped, stop);
  const bool ended = stop.kind == target::StopEvent::Kind::kExited ||
                     stop.kind == target::StopEvent::Kind::kTerminated;
  if (!resume_outstanding_ && &stopped != program()) {
    // Nobody asked about this one now: told when it is resumed next.
    programs_.defer(stopped.pid(), report);
    return;
  }
  programs_.select(stopped.pid());
  if (!ended) general_thread_ = ThreadId{stopped.pid(), stop.tid};
  if (profile_.lldb()) stopped.collect_other_stops();
  if (!resume_outstanding_) return;  // reported when the client asks (?)
  stop_other_programs(stopped);
  if (!report.console.empty()) send_console(report.console);
  resume_outstanding_ = false;
  sink_->send_packet(stop_replies_.stop_reply(stopped, stop));
}

void GdbSession::on_stop_non_stop(Program& stopped, const StopReport& report) {
  const auto& stop = report.stop;
  if (stop.kind == target::StopEvent::Kind::kNoResumed) {
    // As gdbserver: "%Stop:N" when the last running thread ended unseen and nothing runs in
    // any program, to a client that asked for no-resumed.
    const bool others_run = programs_.any_live([](const Program& each) { return each.running(); });
    if (!others_run && profile_.no_resumed()) {
      queue_stop_notification(queued(stopped, stop));
    }
    return;
  }
  if (auto text = stopped.take_console_output(); !text.empty()) send_console(text);
  keep_fork_child(stopped, stop);
  const bool ended = stop.kind == target::StopEvent::Kind::kExited ||
                     stop.kind == target::StopEvent::Kind::kTerminated;
  if (ended) {
    forget_thread_stops(stopped.pid());
  } else if (stop.kind == target::StopEvent::Kind::kThreadExited) {
    thread_stops_.erase({stopped.pid(), stop.tid});
  } else {
    thread_stops_.insert_or_assign({stopped.pid(), stop.tid}, stop);
  }
  if (!report.console.empty()) send_console(report.console);
  queue_stop_notification(queued(stopped, stop));
}

void GdbSession::forget_thread_stops(pid_t pid) {
  std::erase_if(thread_stops_, [pid](const auto& entry) { return entry.first.first == pid; });
}

GdbSession::QueuedStop GdbSession::queued(Program& program, const target::StopEvent& stop) {
  const bool forked =
      stop.kind == target::StopEvent::Kind::kFork || stop.kind == target::StopEvent::Kind::kVfork;
  return {stop_replies_.stop_reply(program, stop), program.pid(), stop.tid,
          forked ? stop.child : 0};
}

void GdbSession::queue_stop_notification(QueuedStop stop) {
  // One %Stop outstanding at a time: the rest go out as answers to vStopped.
  notifications_.push_back(std::move(stop));
  if (notifications_.size() == 1) {
    sink_->send_notification("Stop:" + notifications_.front().reply);
  }
}

bool GdbSession::held_for_queued_stop(pid_t pid, pid_t tid) const {
  return std::any_of(notifications_.begin(), notifications_.end(), [&](const QueuedStop& each) {
    return (each.pid == pid && each.tid == tid) || (each.fork_child != 0 && each.fork_child == pid);
  });
}

void GdbSession::stop_other_programs(Program& told) {
  // All-stop across processes, as gdbserver: what the others hit meanwhile stays pending in
  // their threads; only an exit has to be kept here.
  for (auto* other : programs_.live()) {
    if (other == &told || !other->running()) continue;
    if (auto report = other->interrupt();
        report && report->stop.kind != target::StopEvent::Kind::kInterrupt) {
      programs_.defer(other->pid(), std::move(*report));
    }
  }
}

void GdbSession::keep_fork_child(Program& parent, const target::StopEvent& stop) {
  if (stop.kind != target::StopEvent::Kind::kFork && stop.kind != target::StopEvent::Kind::kVfork) {
    return;
  }
  // The child is a program of its own from here on: gdb detaches it (D;CHILD), keeps it
  // (detach-on-fork off) or follows it (detaches the parent instead).
  if (auto child = parent.take_fork_child(stop.child)) {
    configure(*programs_.add_fork_child(std::move(child)));
  }
}

void GdbSession::configure(Program& program) {
  program.set_non_stop(non_stop_);
  program.set_signals(signals_);
  program.set_fork_events(profile_.fork_events(), profile_.vfork_events());
  program.set_thread_events(profile_.thread_events());
}

bool GdbSession::running_thread(ClientThread thread) const {
  // Non-stop: a running thread's registers are not to be had (ptrace needs it stopped).
  return non_stop_ && program() != nullptr && program()->thread_running(thread);
}

Program* GdbSession::program_named(const ThreadId& id) const {
  if (id.pid && *id.pid > 0) return programs_.find(static_cast<pid_t>(*id.pid));
  return program();
}

bool GdbSession::names(const ThreadId& id, const Program& candidate) const {
  if (id.pid && *id.pid == ThreadId::kAll) return true;
  if (id.pid && *id.pid > 0) return *id.pid == candidate.pid();
  return &candidate == program();
}

std::optional<ClientThread> GdbSession::selected_thread(const ThreadId& chosen) const {
  auto* current = program();
  if (current == nullptr || !current->alive()) return std::nullopt;
  if (const auto thread = ClientThread::from_wire(chosen.tid);
      thread && current->has_thread(*thread)) {
    return thread;
  }
  if (const auto& stop = current->last_stop();
      stop && current->has_thread(ClientThread::os_thread(stop->tid))) {
    return ClientThread::os_thread(stop->tid);
  }
  const auto threads = current->threads();
  if (threads.empty()) return std::nullopt;
  return threads.front();
}

Reply GdbSession::handle(const protocol::QuerySupported& command) {
  auto reply = profile_.negotiate(command.features);
  for (auto* each : programs_.live()) {
    each->set_fork_events(profile_.fork_events(), profile_.vfork_events());
  }
  return Reply::packet(std::move(reply));
}

Reply GdbSession::handle(const protocol::StartNoAckMode&) {
  sink_->send_packet(protocol::kOk);  // still acknowledged; no acks from here on
  sink_->set_no_ack_mode();
  return Reply::sent();
}

Reply GdbSession::handle(const protocol::QueryHaltReason&) {
  if (non_stop_) return halt_reason_non_stop();
  // A client that comes back after its program ended hears of one still alive, if any.
  if (const auto live = programs_.live();
      !live.empty() && (program() == nullptr || !program()->alive())) {
    programs_.select(live.front()->pid());
  }
  auto* current = program();
  if (current == nullptr) {
    // No program yet: gdbserver says W00; lldb-server an error, which lldb reads as
    // "connected, ready to launch or attach" (W00 would read as a program that exited).
    return profile_.lldb() ? Reply::error(ESRCH) : Reply::packet("W00");
  }
  const auto stop = stop_replies_.current_stop(*current);
  if (!stop) return Reply::error(ESRCH);
  return Reply::packet(stop_replies_.stop_reply(*current, *stop));
}

// gdbserver's handle_status in non-stop: what was queued is dropped, every stop the client
// was told (or the program's last stop, the launch's or the attach's) is queued again, the
// first is the answer and vStopped takes the rest; OK when there is none. Other stopped
// threads (those an attach stopped) are not told: gdb counts them running and stops them with
// vCont;t, answered with T00 at once, as gdbserver does. gdb 13 asserts (remote.c:8351) when
// all-stop on a non-stop target receives every thread's stop here.
Reply GdbSession::halt_reason_non_stop() {
  notifications_.clear();
  for (auto* each : programs_.live()) {
    for (const auto thread : each->threads()) {
      if (thread.is_goroutine() || each->thread_running(thread)) continue;
      std::optional<target::StopEvent> stop;
      if (const auto found = thread_stops_.find({each->pid(), thread.tid()});
          found != thread_stops_.end()) {
        stop = found->second;
      } else if (const auto& last = each->last_stop(); last && last->tid == thread.tid()) {
        stop = *last;
        thread_stops_.insert_or_assign({each->pid(), thread.tid()}, *stop);
      }
      if (stop) notifications_.push_back(queued(*each, *stop));
    }
  }
  if (notifications_.empty()) return Reply::ok();
  return Reply::packet(notifications_.front().reply);
}

Reply GdbSession::handle(const protocol::ReadRegisters&) {
  if (const auto* frame = trace_frame()) return trace_frame_registers(*frame, std::nullopt);
  const auto thread = selected_thread(general_thread_);
  if (!thread) return Reply::error(ESRCH);
  if (running_thread(*thread)) return Reply::error(EBUSY);
  auto file = program()->registers(*thread);
  if (!file) return Reply::error(file.error());
  return Reply::packet(protocol::to_hex(*file));
}

Reply GdbSession::handle(const protocol::WriteRegisters& command) {
  if (trace_frame()) return no_writes_in_trace_frame();
  const auto thread = selected_thread(general_thread_);
  if (!thread) return Reply::error(ESRCH);
  if (running_thread(*thread)) return Reply::error(EBUSY);
  if (command.bytes.size() != target::register_file_size()) return Reply::error(EINVAL);
  if (auto written = program()->write_registers(*thread, command.bytes); !written) {
    return Reply::failure(written.error());
  }
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::ReadRegister& command) {
  if (const auto* frame = trace_frame()) return trace_frame_registers(*frame, command.regno);
  const auto registers = target::x86_64_registers();
  const auto thread = selected_thread(general_thread_);
  const auto go = go_register(command.regno);
  if (command.regno >= registers.size() && !go) return Reply::error(EINVAL);
  if (!thread) return Reply::error(ESRCH);
  if (running_thread(*thread)) return Reply::error(EBUSY);
  if (go) {
    const auto value = program()->goroutine_identity(*thread).value(*go);
    return Reply::packet(
        protocol::to_hex(std::string_view(reinterpret_cast<const char*>(&value), sizeof value)));
  }
  // A general register needs no more than this stop's GETREGS; the others, the XSAVE area.
  auto file = target::is_general_register(command.regno) ? program()->general_registers(*thread)
                                                         : program()->registers(*thread);
  if (!file) return Reply::error(file.error());
  const auto& info = registers[command.regno];
  return Reply::packet(
      protocol::to_hex(std::string_view(*file).substr(info.offset, info.bitsize / 8)));
}

Reply GdbSession::handle(const protocol::WriteRegister& command) {
  if (trace_frame()) return no_writes_in_trace_frame();
  const auto registers = target::x86_64_registers();
  const auto thread = selected_thread(general_thread_);
  if (const auto go = go_register(command.regno)) {
    // gdb writes every register back after an inferior call (`p f()`): the same values pass.
    if (!thread) return Reply::error(ESRCH);
    if (running_thread(*thread)) return Reply::error(EBUSY);
    const auto value = program()->goroutine_identity(*thread).value(*go);
    if (command.bytes == std::string_view(reinterpret_cast<const char*>(&value), sizeof value)) {
      return Reply::ok();
    }
    return Reply::failure(Failure::told(EPERM, "Go's goid and g registers are read-only"));
  }
  if (command.regno >= registers.size()) return Reply::error(EINVAL);
  if (!thread) return Reply::error(ESRCH);
  const auto& info = registers[command.regno];
  if (command.bytes.size() != info.bitsize / 8u) return Reply::error(EINVAL);
  if (auto refused = program()->refuse_resume(*thread)) return Reply::failure(*refused);
  auto file = program()->registers(*thread);
  if (!file) return Reply::error(file.error());
  file->replace(info.offset, command.bytes.size(), command.bytes);
  if (auto written = program()->write_registers(*thread, *file); !written) {
    return Reply::failure(written.error());
  }
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::ReadMemory& command) {
  if (command.length == 0) return Reply::unsupported();
  if (program() == nullptr) return Reply::error(ESRCH);
  if (const auto* frame = trace_frame()) {
    if (!program()->trace().read_only(command.address, command.length)) {
      return trace_frame_memory(*frame, command.address, command.length);
    }
    // The executable's read-only sections (QTro) do not change: read live.
  }
  auto reply =
      memory_.read(*program(), command.address, command.length, MemoryReplies::Encoding::kHex);
  if (!reply) return Reply::error(reply.error());
  sink_->send_packet(*reply);  // from the reused buffer: no copy
  return Reply::sent();
}

Reply GdbSession::handle(const protocol::WriteMemory& command) {
  if (program() == nullptr) return Reply::error(ESRCH);
  if (trace_frame()) return no_writes_in_trace_frame();
  if (auto written = program()->write_memory(command.address, command.bytes); !written) {
    return Reply::error(written.error());
  }
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::InsertBreakpoint& command) {
  if (command.type != protocol::BreakpointType::kSoftware) {
    return hardware_point(command.type, command.address, command.kind, true);
  }
  if (program() == nullptr) return Reply::error(ESRCH);
  if (auto inserted = program()->insert_breakpoint(
          command.address, BreakpointAgent{command.conditions, command.commands});
      !inserted) {
    return Reply::error(inserted.error());
  }
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::RemoveBreakpoint& command) {
  if (command.type != protocol::BreakpointType::kSoftware) {
    return hardware_point(command.type, command.address, command.kind, false);
  }
  if (program() == nullptr) return Reply::error(ESRCH);
  if (const auto child = selected_fork_child()) {
    // gdb takes the parent's breakpoints out of a fork child before it detaches it.
    if (auto removed = program()->remove_fork_child_breakpoint(child, command.address); !removed) {
      return Reply::error(removed.error());
    }
    return Reply::ok();
  }
  if (auto removed = program()->remove_breakpoint(command.address); !removed) {
    return Reply::error(removed.error());
  }
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::QueryResumeActions&) {
  if (disabled_.vcont) return Reply::unsupported();
  return Reply::packet("vCont;c;C;s;S;t;r");
}

Reply GdbSession::handle(const protocol::Resume& command) {
  if (!command.legacy && disabled_.vcont) return Reply::unsupported();
  auto* current = program();
  if (current == nullptr || (!current->alive() && programs_.live().empty())) {
    return Reply::error(ESRCH);
  }
  std::vector<protocol::ResumeAction> actions = command.actions;
  for (const auto& action : actions) {
    if (!action.thread || action.kind == protocol::ResumeKind::kStop) continue;
    auto* named = program_named(*action.thread);
    if (named == nullptr) return Reply::error(ESRCH);
    if (const auto thread = ClientThread::from_wire(action.thread->tid)) {
      if (auto refused = named->refuse_resume(*thread)) return Reply::failure(*refused);
    }
  }
  if (command.legacy) {
    // c/C resume every thread; s/S step the thread chosen with Hc (else the current one).
    auto& action = actions.front();
    if (action.kind == protocol::ResumeKind::kStep) {
      const auto thread =
          selected_thread(continue_thread_.tid > 0 ? continue_thread_ : general_thread_);
      if (!thread) return Reply::error(ESRCH);
      if (auto refused = current->refuse_resume(*thread)) return Reply::failure(*refused);
      action.thread = ThreadId{current->pid(), thread->wire()};
    }
  }
  // Each program's share of the actions: an action without a thread is every program's
  // (gdb's schedule-multiple), pPID.-1 one program's.
  std::vector<std::pair<Program*, std::vector<target::ThreadAction>>> plans;
  std::vector<std::pair<Program*, std::vector<pid_t>>> stops;  // vCont;t
  for (auto* each : programs_.live()) {
    std::vector<target::ThreadAction> plan;
    std::vector<pid_t> stopping;
    for (const auto thread : each->threads()) {
      if (thread.is_goroutine()) continue;
      for (const auto& action : actions) {
        const bool wildcard = !action.thread || action.thread->tid == ThreadId::kAll;
        const bool applies = !action.thread || (names(*action.thread, *each) &&
                                                (wildcard || action.thread->tid == thread.wire()));
        if (!applies) continue;
        // Non-stop, as gdbserver: a wildcard resume leaves a thread whose stop gdb has not
        // pulled from the queue yet, and a fork child it has not heard of, where they are.
        if (non_stop_ && wildcard && action.kind != protocol::ResumeKind::kStop &&
            held_for_queued_stop(each->pid(), thread.tid())) {
          break;
        }
        if (action.kind == protocol::ResumeKind::kStop) {
          stopping.push_back(thread.tid());
        } else {
          plan.push_back(
              {thread.tid(),
               action.kind == protocol::ResumeKind::kStep ? target::ResumeKind::kStep
                                                          : target::ResumeKind::kContinue,
               profile_.linux_signal(action.signal), action.range_start, action.range_end});
        }
        break;  // the first action that names a thread is its action
      }
    }
    if (!plan.empty()) plans.emplace_back(each, std::move(plan));
    if (!stopping.empty()) stops.emplace_back(each, std::move(stopping));
  }
  if (non_stop_) return resume_non_stop(plans, stops);
  // A program that ended while another's stop was told has its end kept: it is not among the
  // live ones above, and is told when a resume names it (gdb's schedule-multiple vCont;c).
  for (const pid_t ended : programs_.ended_with_deferred()) {
    auto* each = programs_.find(ended);
    const bool named = std::any_of(actions.begin(), actions.end(), [&](const auto& action) {
      return action.kind != protocol::ResumeKind::kStop &&
             (!action.thread || names(*action.thread, *each));
    });
    if (!named) continue;
    if (auto kept = programs_.take_deferred(ended)) {
      stop_replies_.forget();
      resume_outstanding_ = true;
      on_stop(*each, *kept);
      return Reply::stop_later();
    }
  }
  if (plans.empty()) return Reply::error(current->alive() ? EINVAL : ESRCH);
  stop_replies_.forget();
  // A stop kept for one of them is told first; nothing runs.
  for (auto& [each, plan] : plans) {
    if (auto kept = programs_.take_deferred(each->pid())) {
      resume_outstanding_ = true;
      on_stop(*each, *kept);
      return Reply::stop_later();
    }
  }
  for (auto& [each, plan] : plans) {
    for (const auto& action : plan) {
      log_resume(each->pid(), action);
    }
    auto resumed = each->resume(plan);
    if (!resumed) {
      if (!resume_outstanding_) return Reply::error(resumed.error());
      continue;  // the others run: their stop is the reply
    }
    resume_outstanding_ = true;
    if (*resumed) {  // a pending stop: nothing ran there; those resumed before are stopped
      on_stop(*each, **resumed);
      break;
    }
  }
  return Reply::stop_later();
}

// Non-stop: the threads named run or stop, the others stay as they are; the answer is OK at
// once and every stop comes later as a notification (a stop that needed no run, at once).
Reply GdbSession::resume_non_stop(
    std::vector<std::pair<Program*, std::vector<target::ThreadAction>>>& plans,
    const std::vector<std::pair<Program*, std::vector<pid_t>>>& stops) {
  if (plans.empty() && stops.empty()) {
    // A thread that exited meanwhile (its exit notification crossed gdb's vCont;t): nothing to
    // do, OK as gdbserver says; gdb learns of the exit from the notification.
    return program() != nullptr && program()->alive() ? Reply::ok() : Reply::error(ESRCH);
  }
  for (const auto& [each, tids] : stops) {
    each->request_stop(tids);
    // Stopped already, and the client was never told (an attach stopped it): T00 now.
    for (const pid_t tid : tids) {
      if (!each->thread_running(ClientThread::os_thread(tid)) &&
          !thread_stops_.contains({each->pid(), tid})) {
        on_stop_non_stop(*each, StopReport{target::StopEvent::requested_stop(tid), {}});
      }
    }
  }
  stop_replies_.forget();
  std::optional<target::Error> failed;
  for (auto& [each, plan] : plans) {
    // Running threads are left alone (gdb's vCont;c names every thread of the process).
    std::erase_if(plan, [each](const target::ThreadAction& action) {
      return each->thread_running(ClientThread::os_thread(action.tid));
    });
    if (plan.empty()) continue;
    for (const auto& action : plan) {
      thread_stops_.erase({each->pid(), action.tid});
      log_resume(each->pid(), action);
    }
    auto resumed = each->resume(plan);
    if (!resumed) {
      failed = resumed.error();
      continue;
    }
    if (*resumed) on_stop_non_stop(*each, **resumed);  // nothing ran: told at once
  }
  if (failed && plans.size() == 1 && stops.empty()) return Reply::error(*failed);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::SetThread& command) {
  const auto& id = command.thread;
  // A held fork child, as gdb names it after a fork stop (Hg pCHILD.CHILD or pCHILD.0).
  if (id.pid && *id.pid > 0 && program() != nullptr &&
      program()->holds_fork_child(static_cast<pid_t>(*id.pid))) {
    (command.operation == 'g' ? general_thread_ : continue_thread_) = id;
    return Reply::ok();
  }
  auto* named = program_named(id);
  if (id.pid && *id.pid > 0 && (named == nullptr || !named->alive())) return Reply::error(ESRCH);
  if (id.tid > 0 && (named == nullptr || !named->has_thread(*ClientThread::from_wire(id.tid)))) {
    return Reply::error(ESRCH);
  }
  // The client turns to another inferior: registers, memory and breakpoints are its now.
  if (command.operation == 'g' && named != nullptr && named != program()) {
    programs_.select(named->pid());
  }
  (command.operation == 'g' ? general_thread_ : continue_thread_) = id;
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::QueryThreadListFirst&) {
  if (disabled_.thread_list) return Reply::unsupported();
  // No program yet: lldb takes an empty list for a process 1 that sent no stop, and gives up;
  // lldb-server says OK here, which lldb reads as "connected, ready to launch or attach".
  if (program() == nullptr) return profile_.lldb() ? Reply::ok() : Reply::packet("l");
  std::string reply;
  for (auto* each : programs_.live()) {
    for (const auto thread : each->threads()) {
      reply += reply.empty() ? "m" : ",";
      reply += profile_.thread_id(each->pid(), thread);
    }
  }
  return Reply::packet(reply.empty() ? "l" : std::move(reply));
}

Reply GdbSession::handle(const protocol::QueryThreadListNext&) {
  if (disabled_.thread_list) return Reply::unsupported();
  return Reply::packet("l");  // qfThreadInfo sent every thread at once
}

Reply GdbSession::handle(const protocol::QueryThreadAlive& command) {
  const auto thread = ClientThread::from_wire(command.thread.tid);
  auto* named = program_named(command.thread);
  if (thread && named != nullptr && named->has_thread(*thread)) return Reply::ok();
  return Reply::error(ESRCH);
}

Reply GdbSession::handle(const protocol::QueryTlsAddress& command) {
  auto* named = program_named(command.thread);
  const auto thread = ClientThread::from_wire(command.thread.tid);
  if (named == nullptr || !thread || thread->is_goroutine() || !named->has_thread(*thread))
    return Reply::error(ESRCH);
  if (!monitor_.thread_db_found()) {
    return Reply::failure(Failure::told(ENOENT, "no libthread_db in libthread-db-search-path"));
  }
  const auto address = thread_local_address(*named, *thread, command.offset, command.link_map);
  if (!address) return Reply::error(address.error());
  return Reply::packet(fmt::format("{:x}", *address));
}

Reply GdbSession::handle(const protocol::QueryCurrentThread&) {
  if (disabled_.current_thread) return Reply::unsupported();
  const auto thread = selected_thread(general_thread_);
  if (!thread) return Reply::error(ESRCH);
  return Reply::packet("QC" + profile_.thread_id(program()->pid(), *thread));
}

Reply GdbSession::handle(const protocol::QueryAttached& command) {
  auto* current = command.pid ? programs_.find(static_cast<pid_t>(*command.pid)) : program();
  if (command.pid && current == nullptr) return Reply::error(ESRCH);
  return Reply::packet(current != nullptr && current->attached() ? "1" : "0");
}

Reply GdbSession::handle(const protocol::TransferRead& command) {
  if (command.object == "siginfo") return siginfo_read(command);
  if (command.object == "traceframe-info") return traceframe_info(command);
  return transfers_.read(command, program(), programs_.live(), profile_);
}

Reply GdbSession::hardware_point(protocol::BreakpointType type, std::uint64_t address,
                                 std::uint64_t length, bool insert) {
  using Type = protocol::BreakpointType;
  // x86 cannot watch reads alone: gdbserver declines Z3, and gdb then uses an access
  // watchpoint and tells reads from writes by the value; lldb-server takes Z3 as read/write.
  if (type == Type::kReadWatch && !profile_.lldb()) return Reply::unsupported();
  const auto kind = type == Type::kHardware     ? target::HardwareKind::kExecute
                    : type == Type::kWriteWatch ? target::HardwareKind::kWrite
                    : type == Type::kReadWatch  ? target::HardwareKind::kRead
                                                : target::HardwareKind::kAccess;
  if (program() == nullptr) return Reply::error(ESRCH);
  if (insert && !target::debug_traps_delivered()) {
    // Said once, where the user running gostub sees it: the client has no way to hear it.
    static const bool told = [] {
      fmt::print(stderr,
                 "gostub: this machine does not deliver debug-register traps (a virtual machine "
                 "without them): hardware breakpoints are set as software ones; hardware "
                 "watchpoints never fire (gdb: set can-use-hw-watchpoints 0 watches in "
                 "software)\n");
      return true;
    }();
    (void)told;
  }
  auto done = insert ? program()->insert_hardware_point(kind, address, length)
                     : program()->remove_hardware_point(kind, address, length);
  if (!done) return Reply::error(done.error());
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::QueryWatchpointSupport&) {
  return Reply::packet(fmt::format("num:{};", target::Process::kHardwareSlots));
}

// $_siginfo: the selected thread's, read afresh (never from the qXfer cache).
Reply GdbSession::siginfo_read(const protocol::TransferRead& command) {
  const auto thread = selected_thread(general_thread_);
  if (!thread) return Reply::error(ESRCH);
  auto info = program()->siginfo(*thread);
  if (!info) return Reply::error(info.error());
  return Reply::packet(protocol::transfer_chunk(*info, command.offset, command.length));
}

Reply GdbSession::handle(const protocol::TransferWrite& command) {
  if (command.object != "siginfo") return Reply::unsupported();  // nothing else is writable
  const auto thread = selected_thread(general_thread_);
  if (!thread) return Reply::error(ESRCH);
  auto info = program()->siginfo(*thread);
  if (!info) return Reply::error(info.error());
  if (command.offset > info->size() || command.data.size() > info->size() - command.offset) {
    return Reply::error(EINVAL);
  }
  info->replace(command.offset, command.data.size(), command.data);
  if (auto written = program()->write_siginfo(*thread, *info); !written) {
    return Reply::error(written.error());
  }
  return Reply::packet(fmt::format("{:x}", command.data.size()));
}

Reply GdbSession::handle(const protocol::Kill& command) {
  auto* current = program();
  const auto named = pid_named(command.pid);
  if (named && current != nullptr && current->holds_fork_child(*named)) {
    current->kill_fork_child(*named);
    return command.answered ? Reply::ok() : Reply::none();
  }
  // "vKill;" names no process: gdbserver 13 answers E01 in multiprocess mode, else kills.
  if (command.answered && !command.pid && (profile_.multiprocess() || current == nullptr)) {
    return Reply::error(ESRCH);
  }
  auto* target = named ? programs_.find(*named) : current;
  // A plain "k" with nothing to kill is not answered, as before any program (lldb sends one
  // when it launches into a connection with no process yet).
  if (target == nullptr && !command.answered && !named) return Reply::none();
  if (target == nullptr || (named && !target->alive())) return Reply::error(ESRCH);
  std::optional<target::StopEvent> ended;
  if (target->alive()) {
    ended = target->kill();
  } else {
    ended = target->last_stop();
  }
  (void)programs_.take_deferred(target->pid());
  forget_thread_stops(target->pid());
  // gdbserver's "k" ends every process; vKill;PID the one named.
  if (!command.answered) {
    for (auto* other : programs_.live()) {
      (void)other->kill();
      (void)programs_.take_deferred(other->pid());
    }
  }
  // vKill is answered with OK. "k" has no reply for gdb, which does not wait for one; lldb
  // waits for the exit, as lldb-server sends it.
  if (command.answered) return Reply::ok();
  if (profile_.lldb() && ended) return Reply::packet(stop_replies_.stop_reply(*target, *ended));
  return Reply::none();
}

Reply GdbSession::handle(const protocol::Detach& command) {
  auto* current = program();
  const auto named = pid_named(command.pid);
  if (named && current != nullptr && current->holds_fork_child(*named)) {
    // gdb lets a fork child go (follow-fork-mode parent, detach-on-fork on).
    const auto child = *named;
    if (general_thread_.pid == child) general_thread_ = {std::nullopt, ThreadId::kAny};
    if (auto detached = current->detach_fork_child(child); !detached) {
      return Reply::error(detached.error());
    }
    return Reply::ok();
  }
  auto* target = named ? programs_.find(*named) : current;
  if (target == nullptr || !target->alive()) return Reply::error(ESRCH);
  fmt::print(stderr, "Detaching from process {}\n", target->pid());
  // Non-stop: running threads are stopped first (Process::detach), none is left stuck.
  if (auto detached = target->detach(); !detached) return Reply::error(detached.error());
  const auto pid = target->pid();
  forget_thread_stops(pid);
  // The client goes on with another inferior: a fork child it follows, or the one it kept.
  if (general_thread_.pid == pid) general_thread_ = {std::nullopt, ThreadId::kAny};
  if (target == current) {
    transfers_.forget();
    stop_replies_.forget();
  }
  programs_.forget(pid);  // target is gone
  if (auto* next = programs_.current(); next != nullptr) programs_.select(next->pid());
  return Reply::ok();
}

std::optional<pid_t> GdbSession::pid_named(std::optional<std::int64_t> pid) const {
  // Without multiprocess gdb names its own placeholder (42000), as gdbserver ignores it.
  if (!pid || !profile_.multiprocess()) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

pid_t GdbSession::selected_fork_child() const {
  const auto& pid = general_thread_.pid;
  if (!pid || *pid <= 0 || program() == nullptr) return 0;
  const auto child = static_cast<pid_t>(*pid);
  return program()->holds_fork_child(child) ? child : 0;
}

void GdbSession::send_console(std::string_view text) {
  // One O packet carries at most half the packet size of text (two hex digits a byte).
  for (std::size_t at = 0; at < text.size(); at += kMaxReplyData) {
    sink_->send_packet(protocol::console_output(text.substr(at, kMaxReplyData)));
  }
}

Reply GdbSession::handle(const protocol::MonitorCommand& command) {
  const auto outcome = monitor_.run(command.text, program(), selected_thread(general_thread_));
  if (outcome.threads_changed) stop_replies_.forget();
  if (outcome.exit) {
    sink_->send_packet(protocol::kOk);
    if (hooks_.request_exit) hooks_.request_exit();
    return Reply::sent();
  }
  send_console(outcome.console);
  if (outcome.unknown) return Reply::packet("E01");  // as gdbserver: "Protocol error with Rcmd"
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::QueryOffsets&) {
  // Like gdbserver on Linux: no offsets; gdb relocates a PIE program from auxv's AT_ENTRY.
  return Reply::unsupported();
}

Reply GdbSession::handle(const protocol::QuerySymbol& command) {
  // A stripped binary has no runtime.allgs symbol; the client may have the unstripped one.
  constexpr std::string_view kAllgs = "runtime.allgs";
  auto* go = program() != nullptr ? program()->go() : nullptr;
  if (go == nullptr) return Reply::ok();
  const auto colon = command.payload.find(':');
  if (colon != std::string::npos && colon > 0 &&
      protocol::from_hex(command.payload.substr(colon + 1)) == kAllgs) {
    if (const auto address = protocol::parse_hex_number(command.payload.substr(0, colon))) {
      go->set_allgs_from_client(*address);
    }
    return Reply::ok();
  }
  if (command.payload == ":" && go->ask_client_for_allgs()) {
    return Reply::packet("qSymbol:" + protocol::to_hex(kAllgs));
  }
  return Reply::ok();
}

std::set<int> GdbSession::linux_signals(const std::vector<int>& wire_signals) const {
  std::set<int> out;
  for (const int wire : wire_signals) {
    if (const int host = profile_.linux_signal(wire); host != 0) out.insert(host);
  }
  return out;
}

Reply GdbSession::handle(const protocol::PassSignals& command) {
  signals_.pass = linux_signals(command.signals);
  for (auto* each : programs_.live()) each->set_signals(signals_);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::ProgramSignals& command) {
  signals_.program = linux_signals(command.signals);
  for (auto* each : programs_.live()) each->set_signals(signals_);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::CatchSyscalls& command) {
  if (!command.enable) {
    signals_.syscalls.reset();
  } else {
    signals_.syscalls.emplace(command.numbers.begin(), command.numbers.end());
  }
  for (auto* each : programs_.live()) each->set_signals(signals_);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::ThreadEvents& command) {
  profile_.set_thread_events(command.enable);
  for (auto* each : programs_.live()) each->set_thread_events(command.enable);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::SetNonStop& command) {
  // lldb never asks; gdb asks at connection, while everything is stopped.
  non_stop_ = command.enable;
  notifications_.clear();
  thread_stops_.clear();
  resume_outstanding_ = false;
  for (auto* each : programs_.live()) each->set_non_stop(command.enable);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::StoppedAck&) {
  // The client took the first queued stop; the next one answers, OK when there is none.
  if (!notifications_.empty()) notifications_.pop_front();
  if (notifications_.empty()) return Reply::ok();
  return Reply::packet(notifications_.front().reply);
}

Reply GdbSession::handle(const protocol::CtrlC&) {
  // As gdbserver: SIGINT to the program, as a terminal's Ctrl-C; the thread the kernel gives it
  // to stops with it, told as any stop is (a %Stop in non-stop).
  auto* current = program();
  if (current == nullptr || !current->alive()) return Reply::error(ESRCH);
  if (auto sent = current->signal_interrupt(); !sent) return Reply::error(sent.error().code);
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::Restart&) {
  // gdbserver 13 restarts only in extended mode, and sends no reply: gdb asks `?` next.
  if (!profile_.extended_mode()) return Reply::unsupported();
  auto argv = launch_settings_.last_argv();
  if (argv.empty()) {
    if (programs_.default_executable().empty()) return Reply::none();
    argv = {programs_.default_executable()};
  }
  // gdbserver's R ends every program first.
  for (auto* each : programs_.live()) Programs::end(*each);
  (void)adopt(programs_.launch(launch_settings_.options(std::move(argv), profile_.lldb())), true,
              SIGTRAP);
  return Reply::none();
}

Reply GdbSession::handle(const protocol::EnableExtendedMode&) {
  profile_.enable_extended_mode();
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::HostSetFs& command) {
  return Reply::packet(host_files_.set_filesystem(command));
}
Reply GdbSession::handle(const protocol::HostOpen& command) {
  // A client with no copy of a stripped Go program reads it from here: it gets one with the
  // symbols, lines and frames gostub rebuilds from pclntab, and needs no step of its own.
  if (auto* current = program();
      current != nullptr && current->go() != nullptr && command.path == current->executable()) {
    if (auto image = current->go()->symbol_image()) {
      return Reply::packet(host_files_.open(command, image));
    }
  }
  return Reply::packet(host_files_.open(command));
}
Reply GdbSession::handle(const protocol::HostPread& command) {
  return Reply::packet(host_files_.pread(command, kMaxReplyData));
}
Reply GdbSession::handle(const protocol::HostPwrite& command) {
  return Reply::packet(host_files_.pwrite(command));
}
Reply GdbSession::handle(const protocol::HostUnlink& command) {
  return Reply::packet(host_files_.unlink(command));
}
Reply GdbSession::handle(const protocol::HostClose& command) {
  return Reply::packet(host_files_.close(command));
}
Reply GdbSession::handle(const protocol::HostFstat& command) {
  return Reply::packet(host_files_.fstat(command));
}
Reply GdbSession::handle(const protocol::HostReadlink& command) {
  return Reply::packet(host_files_.readlink(command));
}

Reply GdbSession::handle(const protocol::SetLaunchSetting& command) {
  return launch_settings_.apply(command) ? Reply::ok() : Reply::error(EINVAL);
}

Reply GdbSession::handle(const protocol::Run& command) {
  // gdbserver 13 runs programs only in extended mode: a plain `target remote` gets E01.
  // lldb 19 sends vRun too, never `!` (lldb-server runs it in any mode).
  if (!command.lldb_style && !profile_.extended_mode() && !profile_.lldb()) {
    return Reply::error(EPERM);
  }
  auto argv = command.argv;
  if (argv.empty() || argv.front().empty()) {
    // gdb sends an empty name when it has no `set remote exec-file`: the program gostub knows.
    if (programs_.default_executable().empty()) {
      launch_settings_.last_error() =
          "no program: give one to gostub or `set remote exec-file` in gdb";
      fmt::print(stderr, "gostub: {}\n", launch_settings_.last_error());
      return Reply::failure(Failure::told(ENOENT, launch_settings_.last_error()));
    }
    if (argv.empty()) argv.emplace_back();
    argv.front() = programs_.default_executable();
  }
  return adopt(programs_.launch(launch_settings_.options(std::move(argv),
                                                         command.lldb_style || profile_.lldb())),
               command.lldb_style, SIGTRAP);
}

Reply GdbSession::handle(const protocol::QueryLaunchSuccess&) {
  // lldb's form: "E" and the message.
  if (!launch_settings_.last_error().empty()) {
    return Reply::packet("E" + launch_settings_.last_error());
  }
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::Attach& command) {
  return adopt(programs_.attach(static_cast<pid_t>(command.pid)), false, SIGSTOP);
}

Reply GdbSession::adopt(target::Result<Program*> started, bool lldb_style, int stop_signal) {
  if (!started) {
    launch_settings_.last_error() = started.error().message;
    fmt::print(stderr, "gostub: {}\n", started.error().message);
    return Reply::failure(Failure::told(started.error().code, started.error().message));
  }
  launch_settings_.last_error().clear();
  auto& current = **started;
  configure(current);
  general_thread_ = {std::nullopt, ThreadId::kAny};
  continue_thread_ = {std::nullopt, ThreadId::kAll};
  resume_outstanding_ = false;
  transfers_.forget();
  stop_replies_.forget();
  trace_frame_.reset();
  if (lldb_style) return Reply::ok();  // the stop comes with `?`
  if (non_stop_ && stop_signal == SIGSTOP) {
    // Non-stop vAttach, as gdbserver: OK, and each thread's stop (no signal) follows as a
    // notification.
    for (const auto thread : current.threads()) {
      if (thread.is_goroutine()) continue;
      const auto stop = target::StopEvent::requested_stop(thread.tid());
      thread_stops_.insert_or_assign({current.pid(), thread.tid()}, stop);
      queue_stop_notification(queued(current, stop));
    }
    return Reply::ok();
  }
  return Reply::packet(stop_replies_.stop_reply(
      current, target::StopEvent{target::StopEvent::Kind::kSignal, current.pid(), stop_signal, 0}));
}

Reply GdbSession::handle(const protocol::Declined& command) {
  debug_log().print(DebugLog::Component::kRemote, "declined: {}", command.reason);
  return Reply::unsupported();
}

Reply GdbSession::handle(const protocol::Unknown&) {
  return Reply::unsupported();
}

}  // namespace gostub::server
