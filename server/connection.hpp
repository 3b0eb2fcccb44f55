// One client's byte stream: reading, framing, acks and an ordered write queue. Knows nothing of
// what packets mean. Reading goes on while the program runs, so the interrupt byte is seen.
// Two bounds protect the one event loop from one client: packets are taken from a client only
// while less than kMaxUnsentBytes of replies wait for it (one that never reads stalls itself,
// in the kernel's buffers, not in gostub's memory), and an idle timeout (--idle-timeout) drops
// a client that sends no packet for that long while it is owed nothing.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/framing.hpp"
#include "server/packet_sink.hpp"

namespace gostub::server {

class Connection : public PacketSink, public std::enable_shared_from_this<Connection> {
 public:
  struct Callbacks {
    std::function<void(std::string_view payload)> on_packet;
    std::function<void()> on_interrupt;
    std::function<void()> on_closed;
  };

  // `input` and `output` may be the same descriptor (a socket), or stdin and stdout.
  Connection(boost::asio::io_context& io, int input_fd, int output_fd);
  void start(Callbacks callbacks);
  void send_packet(std::string_view payload) override;
  void send_notification(std::string_view payload) override;
  void send_raw(std::string bytes);
  void set_no_ack_mode() override { no_ack_ = true; }
  // Disconnects the client after `timeout` without a packet from it, unless it is waiting for
  // a reply (a resume whose stop has not come yet). Zero: never. Call before start().
  void set_idle_timeout(std::chrono::seconds timeout) { idle_timeout_ = timeout; }
  void close_after_writes() override;
  bool open() const { return open_; }

  // Replies waiting to be written beyond which no further packet is taken from the client;
  // taking resumes once half of it is written. A reply is at most the packet size (256 KiB).
  static constexpr std::size_t kMaxUnsentBytes = 1 << 20;

 private:
  void read_more();
  // Handles the decoded events from next_event_ on, until the unsent output passes its bound;
  // then reads more.
  void handle_events();
  void handle_event(protocol::InputEvent& event);
  void note_activity() { last_activity_ = std::chrono::steady_clock::now(); }
  void arm_idle_timer();
  void write_next();
  void shut_down();

  boost::asio::posix::stream_descriptor input_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> output_;  // null: same as input_
  Callbacks callbacks_;
  protocol::Decoder decoder_;
  std::vector<protocol::InputEvent> events_;
  std::size_t next_event_ = 0;  // events_[next_event_…] are decoded but not handled yet
  bool paused_ = false;         // stopped taking packets until the output drains
  std::size_t unsent_bytes_ = 0;
  std::array<char, 64 * 1024> read_buffer_{};
  std::deque<std::string> write_queue_;
  static constexpr std::size_t kSpareBuffers = 4;
  std::vector<std::string> spare_buffers_;  // written frames, kept for their capacity
  std::string last_packet_;                 // for a retransmit on '-'
  bool writing_ = false;
  bool no_ack_ = false;
  bool open_ = true;
  bool closing_ = false;
  std::chrono::seconds idle_timeout_{0};
  boost::asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  bool reply_owed_ = false;  // a packet came after the last reply: the client waits for us
};

}  // namespace gostub::server
