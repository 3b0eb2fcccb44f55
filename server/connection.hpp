// One client's byte stream: reading, framing, acks and an ordered write queue. Knows nothing of
// what packets mean. Reading goes on while the program runs, so the interrupt byte is seen.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
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
  Connection(boost::asio::io_context& io, int input_fd, int output_fd, bool log_packets);
  void start(Callbacks callbacks);
  void send_packet(std::string_view payload) override;
  void send_raw(std::string bytes);
  void set_no_ack_mode() override { no_ack_ = true; }
  void close_after_writes() override;
  bool open() const { return open_; }

 private:
  void read_more();
  void write_next();
  void shut_down();

  boost::asio::posix::stream_descriptor input_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> output_;  // null: same as input_
  Callbacks callbacks_;
  protocol::Decoder decoder_;
  std::vector<protocol::InputEvent> events_;
  std::array<char, 64 * 1024> read_buffer_{};
  std::deque<std::string> write_queue_;
  static constexpr std::size_t kSpareBuffers = 4;
  std::vector<std::string> spare_buffers_;  // written frames, kept for their capacity
  std::string last_packet_;                 // for a retransmit on '-'
  bool writing_ = false;
  bool no_ack_ = false;
  bool open_ = true;
  bool closing_ = false;
  bool log_packets_;
};

}  // namespace gostub::server
