// Stop replies for the client's dialect: the T packet (with lldb's thread name, thread lists
// and reason), lldb's per-thread stop info (qThreadStopInfo) and jThreadsInfo.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "protocol/replies.hpp"
#include "server/client_profile.hpp"
#include "server/gdbserver_options.hpp"
#include "server/program.hpp"

namespace gostub::server {

class StopReplies {
 public:
  StopReplies(const ClientProfile& profile, DisabledPackets disabled)
      : profile_(profile), disabled_(disabled) {}

  // The program's last stop as this client is told of it (lldb's first stop differs).
  std::optional<target::StopEvent> current_stop(const Program& program) const;
  std::string stop_reply(Program& program, const target::StopEvent& stop);
  // qThreadStopInfo: the thread's own stop, or a stop with no signal for one merely stopped.
  std::string thread_stop_info(Program& program, ClientThread thread);
  // jThreadsInfo: every thread's name, registers for unwinding, and the reason of the stopped one.
  std::string threads_info(Program& program);
  // The thread lists are made once per stop; forgotten on resume and when threads change.
  void forget() { thread_lists_.reset(); }

 private:
  // `stop` told as a stop of `thread` (a goroutine thread has no stop of its own); `whole`:
  // the stop reply itself, which for lldb carries every thread's stop info too.
  std::string encode(Program& program, const target::StopEvent& stop, ClientThread thread,
                     bool whole);
  void add_lldb_keys(Program& program, protocol::StopReply& reply, const target::StopEvent& stop,
                     ClientThread thread, bool whole);
  // Every thread's name and own stop (lldb's JSON), with registers for jThreadsInfo; empty
  // when there are too many threads for a stop reply.
  std::string threads_json(Program& program, bool with_registers);

  const ClientProfile& profile_;
  DisabledPackets disabled_;
  std::optional<std::pair<std::string, std::string>> thread_lists_;  // lldb's threads:, pcs:
};

}  // namespace gostub::server
