// Where a session's packets go: the client's Connection, or a recorder in the unit tests.
#pragma once

#include <string_view>

namespace gostub::server {

class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void send_packet(std::string_view payload) = 0;
  // An asynchronous notification ("%Stop:…" in non-stop): no ack, answers nothing.
  virtual void send_notification(std::string_view payload) = 0;
  // The client asked for QStartNoAckMode: no acks from the next packet on.
  virtual void set_no_ack_mode() = 0;
  // Sends what is queued, then closes.
  virtual void close_after_writes() = 0;
};

}  // namespace gostub::server
