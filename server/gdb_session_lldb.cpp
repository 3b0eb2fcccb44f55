// GdbSession's handlers for lldb's extensions to the protocol
// (lldb/docs/resources/lldbgdbremote.md): host and process facts, per-thread stop info, thread
// lists in stop replies, memory regions and binary memory reads.
#include <fmt/core.h>
#include <sys/utsname.h>

#include <cerrno>

#include "protocol/framing.hpp"
#include "protocol/hex.hpp"
#include "server/gdb_session.hpp"
#include "server/target_description.hpp"

namespace gostub::server {

namespace {

constexpr std::string_view kTriple = "x86_64-pc-linux-gnu";

}  // namespace

Reply GdbSession::handle(const protocol::EnableThreadSuffix&) {
  profile_.enable_thread_suffix();
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::EnableThreadsInStopReply&) {
  profile_.enable_threads_in_stop_reply();
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::QueryHostInfo&) {
  utsname host{};
  ::uname(&host);
  std::string version = host.release;  // "6.1.0-13-amd64": lldb wants the numbers only
  version = version.substr(0, version.find_first_not_of("0123456789."));
  return Reply::packet(
      fmt::format("triple:{};ptrsize:8;endian:little;ostype:linux;os_version:{};hostname:{};",
                  protocol::to_hex(kTriple), version, protocol::to_hex(host.nodename)));
}

Reply GdbSession::handle(const protocol::QueryProcessInfo&) {
  auto* current = program();
  if (current == nullptr) return Reply::error(ESRCH);
  auto facts = current->facts();
  if (!facts) return Reply::error(facts.error());
  return Reply::packet(
      fmt::format("pid:{:x};parent-pid:{:x};real-uid:{:x};real-gid:{:x};effective-uid:{:x};"
                  "effective-gid:{:x};triple:{};ostype:linux;endian:little;ptrsize:8;",
                  current->pid(), facts->parent_pid, facts->real_uid, facts->real_gid,
                  facts->effective_uid, facts->effective_gid, protocol::to_hex(kTriple)));
}

Reply GdbSession::handle(const protocol::QueryWorkingDirectory&) {
  if (program() == nullptr) return Reply::error(ESRCH);
  auto facts = program()->facts();
  if (!facts) return Reply::error(facts.error());
  return Reply::packet(protocol::to_hex(facts->working_directory));
}

Reply GdbSession::handle(const protocol::QueryThreadStopInfo& command) {
  const auto thread = ClientThread::from_wire(command.tid);
  if (!thread || program() == nullptr || !program()->has_thread(*thread)) {
    return Reply::error(ESRCH);
  }
  return Reply::packet(stop_replies_.thread_stop_info(*program(), *thread));
}

Reply GdbSession::handle(const protocol::QueryThreadsInfo&) {
  if (program() == nullptr) return Reply::packet("[]");
  return Reply::packet(stop_replies_.threads_info(*program()));
}

Reply GdbSession::handle(const protocol::QueryMemoryRegion& command) {
  if (program() == nullptr) return Reply::error(ESRCH);
  auto regions = program()->memory_regions();
  if (!regions) return Reply::error(regions.error());
  std::uint64_t gap_start = 0;
  for (const auto& region : *regions) {
    if (command.address < region.start) {
      return Reply::packet(
          fmt::format("start:{:x};size:{:x};", gap_start, region.start - gap_start));
    }
    if (command.address < region.end) {
      std::string permissions;
      if (region.readable) permissions += 'r';
      if (region.writable) permissions += 'w';
      if (region.executable) permissions += 'x';
      std::string reply = fmt::format("start:{:x};size:{:x};permissions:{};", region.start,
                                      region.end - region.start, permissions);
      if (!region.name.empty()) reply += fmt::format("name:{};", protocol::to_hex(region.name));
      return Reply::packet(std::move(reply));
    }
    gap_start = region.end;
  }
  return Reply::packet(
      fmt::format("start:{:x};size:{:x};", gap_start, ~std::uint64_t{0} - gap_start));
}

Reply GdbSession::handle(const protocol::QueryRegisterInfo& command) {
  // Past the last register lldb-server answers E45; clients stop asking at any error.
  if (auto info = x86_64_register_info(command.regno)) return Reply::packet(std::move(*info));
  return Reply::packet("E45");
}

Reply GdbSession::handle(const protocol::AllocateMemory& command) {
  if (program() == nullptr) return Reply::error(ESRCH);
  auto address = program()->allocate_memory(command.size, command.readable, command.writable,
                                            command.executable);
  if (!address) return Reply::error(address.error());
  return Reply::packet(fmt::format("{:x}", *address));
}

Reply GdbSession::handle(const protocol::DeallocateMemory& command) {
  if (program() == nullptr) return Reply::error(ESRCH);
  if (auto freed = program()->deallocate_memory(command.address); !freed) {
    return Reply::error(freed.error());
  }
  return Reply::ok();
}

Reply GdbSession::handle(const protocol::ReadMemoryBinary& command) {
  // lldb probes with a zero length and expects OK; gdb (binary-upload+) gets "b" + data.
  const std::string_view prefix = profile_.binary_upload() ? "b" : "";
  if (command.length == 0) return Reply::packet(prefix.empty() ? "OK" : std::string(prefix));
  if (program() == nullptr) return Reply::error(ESRCH);
  if (const auto* frame = trace_frame();
      frame != nullptr && !program()->trace().read_only(command.address, command.length)) {
    // gdb 14's x packets while it looks at a trace frame: the frame's bytes, as for m.
    const auto bytes =
        frame->read(command.address, std::min<std::uint64_t>(command.length, kMaxReplyData));
    if (bytes.empty()) return Reply::error(EIO);
    std::string reply(prefix);
    protocol::append_escaped(reply, bytes);
    return Reply::packet(std::move(reply));
  }
  auto reply = memory_.read(*program(), command.address, command.length,
                            MemoryReplies::Encoding::kBinary, prefix);
  if (!reply) return Reply::error(reply.error());
  sink_->send_packet(*reply);  // from the reused buffer: no copy
  return Reply::sent();
}

}  // namespace gostub::server
