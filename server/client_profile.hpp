// Everything decided by what the client said: gdb's or lldb's dialect, the features it asked
// for in qSupported, and how replies are shaped for it. The one place that knows that lldb
// numbers signals natively, writes thread ids without the process, wants "Exx" where gdb
// reads "E.text", and so on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/client_thread.hpp"
#include "server/reply.hpp"

namespace gostub::server {

// Largest packet we accept and send; advertised in qSupported as PacketSize.
inline constexpr std::size_t kMaxPacketSize = 256 * 1024;
// The most data bytes one reply carries: hex (two digits a byte) or escaped binary (at worst
// two bytes a byte) must fit kMaxPacketSize with room for a prefix and the frame.
inline constexpr std::size_t kMaxReplyData = (kMaxPacketSize - 32) / 2;

// What the server can do, as qSupported advertises it: generated from this one list, so
// nothing is advertised that has no handler.
struct ServerFeature {
  std::string_view name;         // "qXfer:threads:read+", "QPassSignals+", …
  bool when_client_has = false;  // advertised only when the client offered it too
};
std::span<const ServerFeature> server_features();

class ClientProfile {
 public:
  enum class Dialect : std::uint8_t { kGdb, kLldb };

  // qSupported: remembers what the client offered and returns the server's answer.
  std::string negotiate(const std::vector<std::string>& client_features);
  // QThreadSuffixSupported, which gdb never sends: the client is lldb.
  void enable_thread_suffix() {
    dialect_ = Dialect::kLldb;
    thread_suffix_ = true;
  }
  void enable_threads_in_stop_reply() { threads_in_stop_reply_ = true; }
  void enable_extended_mode() { extended_mode_ = true; }

  bool lldb() const { return dialect_ == Dialect::kLldb; }
  bool multiprocess() const { return multiprocess_; }
  bool swbreak() const { return swbreak_; }
  bool hwbreak() const { return hwbreak_; }
  // gdb's binary reads ("x" answered with "b" + data) rather than lldb's (bare data).
  bool binary_upload() const { return binary_upload_; }
  bool thread_suffix() const { return thread_suffix_; }
  // lldb's thread lists and reasons in stop replies.
  bool wants_thread_lists() const { return lldb() || threads_in_stop_reply_; }
  bool extended_mode() const { return extended_mode_; }
  // fork:/vfork:/vforkdone/exec: stop replies.
  bool fork_events() const { return fork_events_; }
  bool vfork_events() const { return vfork_events_; }
  bool exec_events() const { return exec_events_; }
  // "N" when nothing resumed is left to report (no-resumed+); thread create/exit stops
  // (QThreadEvents).
  bool no_resumed() const { return no_resumed_; }
  bool thread_events() const { return thread_events_; }
  void set_thread_events(bool on) { thread_events_ = on; }

  // Signal numbers on the wire: lldb uses Linux's own (native-signals), gdb its own table.
  int wire_signal(int linux_signal) const;
  int linux_signal(int wire_signal) const;
  // "TID", or "pPID.TID" when the client speaks multiprocess.
  std::string thread_id(std::int64_t pid, ClientThread thread) const;
  // A failure as this client reads it: gdb prints "E.text" replies; lldb reads only "Exx".
  std::string error_reply(const Failure& failure) const;

 private:
  Dialect dialect_ = Dialect::kGdb;
  bool multiprocess_ = false;
  bool swbreak_ = false;
  bool hwbreak_ = false;
  bool binary_upload_ = false;
  bool thread_suffix_ = false;  // g/G/p/P end with ";thread:TID;"
  bool threads_in_stop_reply_ = false;
  bool extended_mode_ = false;
  bool fork_events_ = false;
  bool vfork_events_ = false;
  bool exec_events_ = false;
  bool no_resumed_ = false;
  bool thread_events_ = false;
};

}  // namespace gostub::server
