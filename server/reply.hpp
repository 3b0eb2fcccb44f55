// What a handler answers, and what went wrong when it failed. Handlers say *what* happened;
// the session renders it for the client's dialect in one place (GdbSession::send).
#pragma once

#include <string>
#include <utility>

#include "target/error.hpp"

namespace gostub::server {

// A failed request: an errno value (gdb's and lldb's "Exx") and a message. `for_user`: the
// message explains a refusal the user must read (gdb shows "E.text" replies); otherwise it is
// logged with --debug and the client gets the code.
struct Failure {
  int code = 0;
  std::string message;
  bool for_user = false;

  static Failure from(const target::Error& error) { return {error.code, error.message, false}; }
  static Failure told(int code, std::string message) { return {code, std::move(message), true}; }
};

class Reply {
 public:
  enum class Kind : std::uint8_t {
    kPacket,     // send payload() now
    kFailure,    // send the failure, rendered for the client
    kSent,       // already sent (a large reply framed from the session's buffer)
    kStopLater,  // the program runs; a stop reply follows when it stops
    kNone,       // the packet has no reply (gdb's "k")
  };

  static Reply packet(std::string payload) { return Reply(Kind::kPacket, std::move(payload)); }
  static Reply ok() { return packet("OK"); }
  // The empty reply: "not supported" in the protocol's words.
  static Reply unsupported() { return packet({}); }
  static Reply failure(Failure failure) {
    Reply reply(Kind::kFailure, {});
    reply.failure_ = std::move(failure);
    return reply;
  }
  static Reply error(int code) { return failure({code, {}, false}); }
  static Reply error(const target::Error& error) { return failure(Failure::from(error)); }
  static Reply sent() { return Reply(Kind::kSent, {}); }
  static Reply stop_later() { return Reply(Kind::kStopLater, {}); }
  static Reply none() { return Reply(Kind::kNone, {}); }

  Kind kind() const { return kind_; }
  const std::string& payload() const { return payload_; }
  const Failure& failure() const { return failure_; }

 private:
  Reply(Kind kind, std::string payload) : kind_(kind), payload_(std::move(payload)) {}
  Kind kind_;
  std::string payload_;
  Failure failure_;
};

}  // namespace gostub::server
