// GdbSession's handlers for lldb's extensions to the protocol
// (lldb/docs/resources/lldbgdbremote.md): host and process facts, per-thread stop info, thread
// lists in stop replies, memory regions and binary memory reads.
#include <fmt/core.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>

#include "protocol/framing.hpp"
#include "protocol/hex.hpp"
#include "protocol/signals.hpp"
#include "server/gdb_session.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

using Kind = target::StopEvent::Kind;

constexpr std::string_view kTriple = "x86_64-pc-linux-gnu";

std::string hex_text(std::string_view text) {
  return protocol::to_hex(text);
}

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

std::string_view reason_of(const target::StopEvent& stop) {
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
    case Kind::kExited:
    case Kind::kTerminated:
      return {};
  }
  return {};
}

}  // namespace

void GdbSession::add_lldb_stop_keys(protocol::StopReply& reply, const target::StopEvent& stop) {
  reply.extra.emplace_back("hexname", hex_text(thread_display_name(stop.tid)));
  // The same two lists for every thread's stop info at this stop: made once (lldb asks each
  // thread, and with goroutine threads there may be thousands).
  if (!thread_lists_) {
    std::string tids, pcs;
    for (const auto tid : client_threads()) {
      if (!tids.empty()) {
        tids += ',';
        pcs += ',';
      }
      tids += protocol::hex_number(static_cast<std::uint64_t>(tid));
      const auto* goroutine = parked_goroutine(tid);
      pcs += protocol::hex_number(
          goroutine ? goroutine->pc : process_->read_pc(static_cast<pid_t>(tid)).value_or(0));
    }
    thread_lists_.emplace(std::move(tids), std::move(pcs));
  }
  const auto& [tids, pcs] = *thread_lists_;
  reply.extra.emplace_back("threads", tids);
  reply.extra.emplace_back("thread-pcs", pcs);
  if (const auto reason = reason_of(stop); !reason.empty()) {
    reply.extra.emplace_back("reason", std::string(reason));
  }
}

GdbSession::Reply GdbSession::handle(const protocol::EnableThreadSuffix&) {
  lldb_client_ = true;
  thread_suffix_ = true;
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::EnableThreadsInStopReply&) {
  threads_in_stop_reply_ = true;
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::QueryHostInfo&) {
  utsname host{};
  ::uname(&host);
  std::string version = host.release;  // "6.1.0-13-amd64": lldb wants the numbers only
  version = version.substr(0, version.find_first_not_of("0123456789."));
  return fmt::format("triple:{};ptrsize:8;endian:little;ostype:linux;os_version:{};hostname:{};",
                     hex_text(kTriple), version, hex_text(host.nodename));
}

GdbSession::Reply GdbSession::handle(const protocol::QueryProcessInfo&) {
  auto facts = process_->facts();
  if (!facts) return error(facts.error());
  return fmt::format(
      "pid:{:x};parent-pid:{:x};real-uid:{:x};real-gid:{:x};effective-uid:{:x};"
      "effective-gid:{:x};triple:{};ostype:linux;endian:little;ptrsize:8;",
      process_->pid(), facts->parent_pid, facts->real_uid, facts->real_gid, facts->effective_uid,
      facts->effective_gid, hex_text(kTriple));
}

GdbSession::Reply GdbSession::handle(const protocol::QueryWorkingDirectory&) {
  auto facts = process_->facts();
  if (!facts) return error(facts.error());
  return hex_text(facts->working_directory);
}

GdbSession::Reply GdbSession::handle(const protocol::QueryThreadStopInfo& command) {
  const auto tid = static_cast<pid_t>(command.tid);
  if (!client_has_thread(command.tid)) return protocol::error_reply(ESRCH);
  if (const auto stop = current_stop(); stop && stop->tid == tid) return stop_reply(*stop);
  if (const auto other = other_stops_.find(tid); other != other_stops_.end()) {
    return stop_reply(other->second);
  }
  // A thread that was merely stopped along with the others: no signal, no reason.
  return stop_reply(target::StopEvent{Kind::kSignal, tid, 0, 0});
}

GdbSession::Reply GdbSession::handle(const protocol::QueryThreadsInfo&) {
  const auto registers = target::x86_64_registers();
  const auto stop = current_stop();
  std::string json = "[";
  for (const auto tid : client_threads()) {
    if (json.size() > 1) json += ',';
    json += fmt::format("{{\"tid\":{},\"name\":{}", tid, json_string(thread_display_name(tid)));
    if (stop && stop->tid == tid) {
      if (const auto reason = reason_of(*stop); !reason.empty()) {
        json += fmt::format(",\"reason\":\"{}\"", reason);
      }
      const int signal = stop->kind == Kind::kInterrupt ? SIGINT
                         : stop->kind == Kind::kSignal  ? stop->signal
                                                        : SIGTRAP;
      json += fmt::format(",\"signal\":{}", wire_signal(signal));
    }
    if (auto file = thread_registers(tid)) {
      json += ",\"registers\":{";
      bool first = true;
      for (const auto n : {target::regno::kRbp, target::regno::kRsp, target::regno::kRip}) {
        const auto& info = registers[n];
        json += fmt::format(
            "{}\"{}\":\"{}\"", first ? "" : ",", n,
            protocol::to_hex(std::string_view(*file).substr(info.offset, info.bitsize / 8)));
        first = false;
      }
      json += '}';
    }
    json += '}';
  }
  json += ']';
  return protocol::escape_binary(json);  // '}' is the protocol's escape byte
}

GdbSession::Reply GdbSession::handle(const protocol::QueryMemoryRegion& command) {
  auto regions = process_->memory_regions();
  if (!regions) return error(regions.error());
  std::uint64_t gap_start = 0;
  for (const auto& region : *regions) {
    if (command.address < region.start) {
      return fmt::format("start:{:x};size:{:x};", gap_start, region.start - gap_start);
    }
    if (command.address < region.end) {
      std::string permissions;
      if (region.readable) permissions += 'r';
      if (region.writable) permissions += 'w';
      if (region.executable) permissions += 'x';
      std::string reply = fmt::format("start:{:x};size:{:x};permissions:{};", region.start,
                                      region.end - region.start, permissions);
      if (!region.name.empty()) reply += fmt::format("name:{};", hex_text(region.name));
      return reply;
    }
    gap_start = region.end;
  }
  return fmt::format("start:{:x};size:{:x};", gap_start, ~std::uint64_t{0} - gap_start);
}

GdbSession::Reply GdbSession::handle(const protocol::ReadMemoryBinary& command) {
  // lldb probes with a zero length and expects OK; gdb (binary-upload+) gets "b" + data.
  if (command.length == 0) return std::string(binary_upload_ ? "b" : "OK");
  // Escaping at worst doubles the data: stay within the advertised packet size.
  const auto length = std::min<std::uint64_t>(command.length, (kMaxPacketSize - 16) / 2);
  memory_buffer_.resize(length);
  auto got = process_->read_memory_into(command.address, memory_buffer_);
  if (!got) return error(got.error());
  reply_buffer_.assign(binary_upload_ ? "b" : "");
  protocol::append_escaped(reply_buffer_, std::string_view(memory_buffer_).substr(0, *got));
  connection_->send_packet(reply_buffer_);  // from the reused buffer: no copy
  return std::nullopt;
}

}  // namespace gostub::server
