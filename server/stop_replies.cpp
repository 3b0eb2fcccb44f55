#include "server/stop_replies.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <cstring>

#include "protocol/commands.hpp"
#include "protocol/framing.hpp"
#include "protocol/hex.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

using Kind = target::StopEvent::Kind;

// The registers a client needs to unwind the stopped frame without asking: rbp, rsp, rip for
// gdb (it reads no other at a stop). lldb reads the frame's registers at every stop, whatever
// it was sent, unless it was sent all the general ones (as lldb-server does): those
// PTRACE_GETREGS reads, which the stop has at hand.
template <typename Each>
void for_each_expedited(std::string_view file, bool all_general, Each each) {
  const auto registers = target::x86_64_registers();
  auto one = [&](std::uint32_t n) {
    const auto& info = registers[n];
    each(n, file.substr(info.offset, info.bitsize / 8));
  };
  if (all_general) {
    for (std::uint32_t n = 0; n < registers.size(); ++n) {
      if (target::is_general_register(n)) one(n);
    }
    return;
  }
  for (const auto n : {target::regno::kRbp, target::regno::kRsp, target::regno::kRip}) one(n);
}

// lldb's jstopinfo (in the stop reply, hex) holds every thread's stop info, so that it asks no
// qThreadStopInfo per thread; beyond this many threads (goroutine threads) it is left out.
constexpr std::size_t kMaxStopInfoThreads = 512;

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string_view lldb_reason(const target::StopEvent& stop) {
  if (stop.hardware) {
    return stop.hardware->kind == target::HardwareKind::kExecute ? "breakpoint" : "watchpoint";
  }
  switch (stop.kind) {
    case Kind::kBreakpoint:
      return "breakpoint";
    case Kind::kStepDone:
      return "trace";
    // A bare SIGTRAP (the exec stop at launch, runtime.Breakpoint) gets no reason: with
    // "signal", lldb 19 treats it as a signal to pass and resumes the program at connect.
    case Kind::kSignal:
      return stop.signal == SIGTRAP ? std::string_view{} : "signal";
    case Kind::kInterrupt:
      return "signal";
    case Kind::kFork:
      return "fork";
    case Kind::kVfork:
      return "vfork";
    case Kind::kVforkDone:
      return "vforkdone";
    case Kind::kSyscallEntry:
    case Kind::kSyscallReturn:
      return "signal";
    case Kind::kThreadCreated:
      return "trace";
    case Kind::kExec:  // told as a bare SIGTRAP, as before exec events (lldb asks for none)
    case Kind::kThreadExited:
    case Kind::kNoResumed:
    case Kind::kExited:
    case Kind::kTerminated:
      return {};
  }
  return {};
}

protocol::StopReply::Watch watch_key(target::HardwareKind kind) {
  switch (kind) {
    case target::HardwareKind::kWrite:
      return protocol::StopReply::Watch::kWrite;
    case target::HardwareKind::kRead:
      return protocol::StopReply::Watch::kRead;
    case target::HardwareKind::kAccess:
      return protocol::StopReply::Watch::kAccess;
    case target::HardwareKind::kExecute:
      break;
  }
  return protocol::StopReply::Watch::kNone;
}

// What lldb-server says of a fault (lldb's CrashReason), by signal and si_code.
std::string_view crash_reason(int signal, int code) {
  switch (signal) {
    case SIGSEGV:
      if (code == SEGV_MAPERR) return "address not mapped to object";
      if (code == SEGV_ACCERR) return "invalid permissions for mapped object";
      if (code == SEGV_BNDERR) return "failed address bounds checks";
      return {};
    case SIGILL:
      if (code == ILL_ILLOPC) return "illegal opcode";
      if (code == ILL_ILLOPN) return "illegal operand";
      if (code == ILL_ILLADR) return "illegal addressing mode";
      if (code == ILL_ILLTRP) return "illegal trap";
      if (code == ILL_PRVOPC) return "privileged opcode";
      if (code == ILL_PRVREG) return "privileged register";
      if (code == ILL_COPROC) return "coprocessor error";
      if (code == ILL_BADSTK) return "internal stack error";
      return {};
    case SIGFPE:
      if (code == FPE_INTDIV) return "integer divide by zero";
      if (code == FPE_INTOVF) return "integer overflow";
      if (code == FPE_FLTDIV) return "floating point divide by zero";
      if (code == FPE_FLTOVF) return "floating point overflow";
      if (code == FPE_FLTUND) return "floating point underflow";
      if (code == FPE_FLTRES) return "inexact floating point result";
      if (code == FPE_FLTINV) return "invalid floating point operation";
      if (code == FPE_FLTSUB) return "subscript out of range";
      return {};
    case SIGBUS:
      if (code == BUS_ADRALN) return "illegal alignment";
      if (code == BUS_ADRERR) return "illegal address";
      if (code == BUS_OBJERR) return "hardware error";
      return {};
    default:
      return {};
  }
}

// lldb's description of a stop, plain text ("" when none): a watchpoint's "ADDR SLOT" (lldb
// finds its watchpoint by the address), or a fault's reason and address as lldb-server says.
std::string lldb_description(Program& program, const target::StopEvent& stop) {
  if (stop.hardware) {
    if (stop.hardware->kind == target::HardwareKind::kExecute) return {};
    return fmt::format("{} {}", stop.hardware->address, stop.hardware->slot);
  }
  if (stop.kind != Kind::kSignal) return {};
  const std::string_view name = stop.signal == SIGSEGV  ? "SIGSEGV"
                                : stop.signal == SIGILL ? "SIGILL"
                                : stop.signal == SIGFPE ? "SIGFPE"
                                : stop.signal == SIGBUS ? "SIGBUS"
                                                        : "";
  if (name.empty()) return {};
  const auto bytes = program.siginfo(ClientThread::os_thread(stop.tid));
  if (!bytes || bytes->size() < sizeof(siginfo_t)) return {};
  siginfo_t info{};
  std::memcpy(&info, bytes->data(), sizeof info);
  const auto reason = crash_reason(stop.signal, info.si_code);
  if (info.si_signo != stop.signal || reason.empty()) return {};
  return fmt::format("signal {}: {} (fault address: {:#x})", name, reason,
                     reinterpret_cast<std::uintptr_t>(info.si_addr));
}

}  // namespace

std::optional<target::StopEvent> StopReplies::current_stop(const Program& program) const {
  const auto& last = program.last_stop();
  if (!last) return std::nullopt;
  if (profile_.lldb() && !program.resumed_yet() && last->kind == Kind::kSignal) {
    // lldb plants a breakpoint at the entry point at connect; a SIGTRAP reported there reads
    // to it as a hit of that breakpoint, whose callback resumes the program. lldb-server
    // reports this first stop as SIGSTOP; so does gostub, to lldb.
    auto first = *last;
    first.signal = SIGSTOP;
    return first;
  }
  return last;
}

std::string StopReplies::stop_reply(Program& program, const target::StopEvent& stop) {
  return encode(program, stop, ClientThread::os_thread(stop.tid), true);
}

std::string StopReplies::encode(Program& program, const target::StopEvent& stop,
                                ClientThread thread, bool whole) {
  protocol::StopReply reply;
  reply.with_thread = !disabled_.stop_thread;
  reply.signal_only = disabled_.t_replies;
  reply.pid = program.pid();
  reply.tid = thread.wire();
  switch (stop.kind) {
    case Kind::kExited:
      reply.kind = protocol::StopReply::Kind::kExited;
      reply.exit_code = stop.exit_code;
      return protocol::encode_stop_reply(reply, profile_.multiprocess());
    case Kind::kTerminated:
      reply.kind = protocol::StopReply::Kind::kTerminated;
      reply.signal = profile_.wire_signal(stop.signal);
      return protocol::encode_stop_reply(reply, profile_.multiprocess());
    case Kind::kThreadExited:
      reply.kind = protocol::StopReply::Kind::kThreadExited;
      reply.exit_code = stop.exit_code;
      return protocol::encode_stop_reply(reply, profile_.multiprocess());
    case Kind::kNoResumed:
      reply.kind = protocol::StopReply::Kind::kNoResumed;
      return protocol::encode_stop_reply(reply, profile_.multiprocess());
    case Kind::kThreadCreated:  // QThreadEvents: "T05create:;", the new thread's
      reply.signal = profile_.wire_signal(SIGTRAP);
      reply.extra.emplace_back("create", "");
      break;
    case Kind::kInterrupt:  // a stop the client asked for in non-stop (vCont;t): T00
      reply.signal = stop.requested ? 0 : profile_.wire_signal(SIGINT);
      break;
    case Kind::kBreakpoint:  // or a hardware breakpoint kept as an int3: hwbreak below
      reply.software_breakpoint = profile_.swbreak() && !stop.hardware;
      reply.signal = profile_.wire_signal(SIGTRAP);
      break;
    case Kind::kStepDone:
    case Kind::kSignal:
      reply.signal = profile_.wire_signal(stop.signal);
      break;
    // Reported only to a client that asked for them (fork-events+, vfork-events+).
    case Kind::kFork:
    case Kind::kVfork:
      reply.signal = profile_.wire_signal(SIGTRAP);
      reply.extra.emplace_back(
          stop.kind == Kind::kFork ? "fork" : "vfork",
          protocol::format_thread_id(stop.child, stop.child, profile_.multiprocess()));
      break;
    case Kind::kVforkDone:
      reply.signal = profile_.wire_signal(SIGTRAP);
      reply.extra.emplace_back("vforkdone", "");
      break;
    case Kind::kSyscallEntry:
    case Kind::kSyscallReturn:
      reply.signal = profile_.wire_signal(SIGTRAP);
      reply.extra.emplace_back(
          stop.kind == Kind::kSyscallEntry ? "syscall_entry" : "syscall_return",
          protocol::hex_number(static_cast<std::uint64_t>(stop.syscall)));
      break;
    // Without exec-events+ an exec is the SIGTRAP it used to be.
    case Kind::kExec:
      reply.signal = profile_.wire_signal(SIGTRAP);
      if (profile_.exec_events()) {
        reply.extra.emplace_back("exec", protocol::to_hex(program.executable()));
      }
      break;
  }
  if (stop.hardware && !profile_.lldb()) {  // lldb is told by its reason and description
    if (stop.hardware->kind == target::HardwareKind::kExecute) {
      reply.hardware_breakpoint = profile_.hwbreak();
    } else {
      reply.watch = watch_key(stop.hardware->kind);
      reply.watch_address = stop.hardware->address;
    }
  }
  // No "core:": it costs a /proc read (3 system calls) per stop, ~10% of a breakpoint hit,
  // and neither gdb nor lldb needs it there (qXfer:threads still says each thread's core).
  if (profile_.wants_thread_lists()) add_lldb_keys(program, reply, stop, thread, whole);
  if (auto file = program.general_registers(thread)) {
    for_each_expedited(*file, profile_.lldb(), [&](std::uint32_t n, std::string_view bytes) {
      reply.expedited.emplace_back(n, std::string(bytes));
    });
  }
  return protocol::encode_stop_reply(reply, profile_.multiprocess());
}

void StopReplies::add_lldb_keys(Program& program, protocol::StopReply& reply,
                                const target::StopEvent& stop, ClientThread thread, bool whole) {
  reply.extra.emplace_back("hexname", protocol::to_hex(program.thread_name(thread)));
  // The same two lists for every thread's stop info at this stop: made once (lldb asks each
  // thread, and with goroutine threads there may be thousands).
  if (!thread_lists_) {
    std::string tids, pcs;
    for (const auto listed : program.threads()) {
      if (!tids.empty()) {
        tids += ',';
        pcs += ',';
      }
      tids += protocol::hex_number(static_cast<std::uint64_t>(listed.wire()));
      pcs += protocol::hex_number(program.pc(listed).value_or(0));
    }
    thread_lists_.emplace(std::move(tids), std::move(pcs));
  }
  const auto& [tids, pcs] = *thread_lists_;
  reply.extra.emplace_back("threads", tids);
  if (whole && profile_.lldb()) {
    if (auto json = threads_json(program, false); !json.empty()) {
      reply.extra.emplace_back("jstopinfo", protocol::to_hex(json));
    }
  }
  reply.extra.emplace_back("thread-pcs", pcs);
  if (const auto reason = lldb_reason(stop); !reason.empty()) {
    reply.extra.emplace_back("reason", std::string(reason));
  }
  if (stop.hardware && stop.hardware->kind != target::HardwareKind::kExecute) {
    reply.extra.emplace_back(
        "description", protocol::lldb_watchpoint_description(stop.hardware->address,
                                                             stop.hardware->slot, std::nullopt));
  } else if (const auto description = lldb_description(program, stop); !description.empty()) {
    reply.extra.emplace_back("description", protocol::to_hex(description));
  }
}

std::string StopReplies::thread_stop_info(Program& program, ClientThread thread) {
  if (!thread.is_goroutine()) {
    if (const auto stop = current_stop(program); stop && stop->tid == thread.tid()) {
      return encode(program, *stop, thread, false);
    }
    const auto& others = program.other_stops();
    if (const auto other = others.find(thread.tid()); other != others.end()) {
      return encode(program, other->second, thread, false);
    }
  }
  // A thread that was merely stopped along with the others: no signal, no reason.
  return encode(program, target::StopEvent{Kind::kSignal, 0, 0, 0}, thread, false);
}

std::string StopReplies::threads_info(Program& program) {
  return protocol::escape_binary(threads_json(program, true));  // '}' is the protocol's escape
}

std::string StopReplies::threads_json(Program& program, bool with_registers) {
  const auto threads = program.threads();
  if (!with_registers && threads.size() > kMaxStopInfoThreads) return {};
  const auto stop = current_stop(program);
  const auto& others = program.other_stops();
  std::string json = "[";
  for (const auto thread : threads) {
    if (json.size() > 1) json += ',';
    json += fmt::format("{{\"tid\":{},\"name\":{}", thread.wire(),
                        json_string(program.thread_name(thread)));
    // The thread's own stop: the one reported, or another seen at the same time.
    std::optional<target::StopEvent> own;
    if (!thread.is_goroutine()) {
      if (stop && stop->tid == thread.tid()) {
        own = stop;
      } else if (const auto other = others.find(thread.tid()); other != others.end()) {
        own = other->second;
      }
    }
    if (own) {
      if (const auto reason = lldb_reason(*own); !reason.empty()) {
        json += fmt::format(",\"reason\":\"{}\"", reason);
      }
      if (const auto description = lldb_description(program, *own); !description.empty()) {
        json += ",\"description\":" + json_string(description);
      }
      const int signal = own->kind == Kind::kInterrupt ? SIGINT
                         : own->kind == Kind::kSignal  ? own->signal
                                                       : SIGTRAP;
      json += fmt::format(",\"signal\":{}", profile_.wire_signal(signal));
    }
    if (with_registers) {
      if (auto file = program.general_registers(thread)) {
        json += ",\"registers\":{";
        bool first = true;
        for_each_expedited(*file, false, [&](std::uint32_t n, std::string_view bytes) {
          json += fmt::format("{}\"{}\":\"{}\"", first ? "" : ",", n, protocol::to_hex(bytes));
          first = false;
        });
        json += '}';
      }
    }
    json += '}';
  }
  json += ']';
  return json;
}

}  // namespace gostub::server
