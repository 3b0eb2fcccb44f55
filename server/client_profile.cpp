#include "server/client_profile.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "protocol/commands.hpp"
#include "protocol/replies.hpp"
#include "protocol/signals.hpp"

namespace gostub::server {

namespace {

constexpr ServerFeature kFeatures[] = {
    {"QStartNoAckMode+"},
    {"swbreak+"},
    {"hwbreak+"},
    {"multiprocess+", true},
    {"binary-upload+", true},
    // lldb's: thread suffixes, thread lists in stop replies, Linux's own signal numbers
    // (gdb ignores the last).
    {"QThreadSuffixSupported+"},
    {"QListThreadsInStopReply+"},
    {"native-signals+"},
    {"qXfer:features:read+"},
    {"qXfer:threads:read+"},
    {"qXfer:exec-file:read+"},
    {"qXfer:auxv:read+"},
    {"qXfer:osdata:read+"},
    {"qXfer:siginfo:read+"},
    {"qXfer:siginfo:write+"},
    {"QPassSignals+"},
    {"QProgramSignals+"},
    {"QCatchSyscalls+"},
    {"ConditionalBreakpoints+"},
    {"BreakpointCommands+"},  // agent dprintf: gdb's `set dprintf-style agent`
    {"QEnvironmentHexEncoded+"},
    {"QEnvironmentUnset+"},
    {"QEnvironmentReset+"},
    {"QSetWorkingDir+"},
    {"QDisableRandomization+"},
    // gdb's: fork, vfork and exec stops (only to a client that offers them).
    {"fork-events+", true},
    {"vfork-events+", true},
    {"exec-events+", true},
    // Thread create/exit stops when asked (QThreadEvents); "N" to a client that reads it.
    {"QThreadEvents+"},
    {"no-resumed+", true},
    // Tracepoints (gdb_session_trace.cpp): collected in the hit filter, passed in place. Not
    // FastTracepoints or StaticTracepoints (gdbserver's in-process agent), nor while-stepping.
    {"ConditionalTracepoints+"},
    {"TraceStateVariables+"},
    {"TracepointSource+"},
    {"DisconnectedTracing+"},
    {"InstallInTrace+"},
    {"EnableDisableTracepoints+"},
    {"QTBuffer:size+"},
    {"tracenz+"},
    {"qXfer:traceframe-info:read+"},
    // gdb's non-stop mode: QNonStop, %Stop notifications, vStopped, vCont;t.
    {"QNonStop+"},
};

}  // namespace

std::span<const ServerFeature> server_features() {
  return kFeatures;
}

std::string ClientProfile::negotiate(const std::vector<std::string>& client_features) {
  const auto offered = [&](std::string_view name) {
    return std::find(client_features.begin(), client_features.end(), name) != client_features.end();
  };
  multiprocess_ = offered("multiprocess+");
  swbreak_ = offered("swbreak+");
  hwbreak_ = offered("hwbreak+");
  binary_upload_ = offered("binary-upload+");
  fork_events_ = offered("fork-events+");
  vfork_events_ = offered("vfork-events+");
  exec_events_ = offered("exec-events+");
  no_resumed_ = offered("no-resumed+");
  std::string reply = fmt::format("PacketSize={:x}", kMaxPacketSize);
  for (const auto& feature : kFeatures) {
    if (feature.when_client_has && !offered(feature.name)) continue;
    reply += ';';
    reply += feature.name;
  }
  return reply;
}

int ClientProfile::wire_signal(int signal) const {
  return lldb() ? signal : protocol::gdb_signal_from_linux(signal);
}

int ClientProfile::linux_signal(int signal) const {
  return lldb() ? signal : protocol::linux_signal_from_gdb(signal);
}

std::string ClientProfile::thread_id(std::int64_t pid, ClientThread thread) const {
  return protocol::format_thread_id(pid, thread.wire(), multiprocess_);
}

std::string ClientProfile::error_reply(const Failure& failure) const {
  if (failure.for_user && !failure.message.empty() && !lldb()) return "E." + failure.message;
  return protocol::error_reply(failure.code);
}

}  // namespace gostub::server
