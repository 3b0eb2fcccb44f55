#include "server/connection.hpp"

#include <fmt/core.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

namespace gostub::server {

namespace asio = boost::asio;

Connection::Connection(asio::io_context& io, int input_fd, int output_fd, bool log_packets)
    : input_(io, input_fd), log_packets_(log_packets) {
  if (output_fd != input_fd)
    output_ = std::make_unique<asio::posix::stream_descriptor>(io, output_fd);
}

void Connection::start(Callbacks callbacks) {
  callbacks_ = std::move(callbacks);
  read_more();
}

void Connection::read_more() {
  input_.async_read_some(
      asio::buffer(read_buffer_),
      [self = shared_from_this()](const boost::system::error_code& error, std::size_t length) {
        if (!self->open_) return;
        if (error) {
          self->shut_down();
          return;
        }
        self->events_.clear();
        self->decoder_.feed(std::string_view(self->read_buffer_.data(), length), self->events_);
        for (auto& event : self->events_) {
          if (!self->open_) return;
          if (auto* packet = std::get_if<protocol::PacketReceived>(&event)) {
            if (self->log_packets_) fmt::print(stderr, "gostub: <- {}\n", packet->payload);
            if (!self->no_ack_) self->send_raw("+");
            self->callbacks_.on_packet(packet->payload);
          } else if (std::holds_alternative<protocol::InterruptReceived>(event)) {
            if (self->log_packets_) fmt::print(stderr, "gostub: <- ^C\n");
            self->callbacks_.on_interrupt();
          } else if (std::holds_alternative<protocol::NackReceived>(event)) {
            if (!self->last_packet_.empty()) self->send_raw(self->last_packet_);
          } else if (auto* bad = std::get_if<protocol::BadPacketReceived>(&event)) {
            if (self->log_packets_) fmt::print(stderr, "gostub: bad packet: {}\n", bad->reason);
            if (!self->no_ack_) self->send_raw("-");
          }
        }
        if (self->open_ && !self->closing_) self->read_more();
      });
}

void Connection::send_packet(std::string_view payload) {
  if (!open_) return;
  if (log_packets_) fmt::print(stderr, "gostub: -> {}\n", payload.substr(0, 512));
  // A buffer that was written before, so that steady traffic (memory dumps) allocates nothing.
  std::string framed;
  if (!spare_buffers_.empty()) {
    framed = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
  }
  protocol::frame_into(framed, payload);
  if (!no_ack_) last_packet_ = framed;
  send_raw(std::move(framed));
}

void Connection::send_raw(std::string bytes) {
  if (!open_) return;
  write_queue_.push_back(std::move(bytes));
  if (!writing_) write_next();
}

void Connection::write_next() {
  if (write_queue_.empty()) {
    writing_ = false;
    if (closing_) shut_down();
    return;
  }
  writing_ = true;
  auto on_written = [self = shared_from_this()](const boost::system::error_code& error,
                                                std::size_t) {
    if (error) {
      self->shut_down();
      return;
    }
    if (self->spare_buffers_.size() < kSpareBuffers) {
      self->spare_buffers_.push_back(std::move(self->write_queue_.front()));
    }
    self->write_queue_.pop_front();
    self->write_next();
  };
  if (output_) {
    asio::async_write(*output_, asio::buffer(write_queue_.front()), on_written);
  } else {
    asio::async_write(input_, asio::buffer(write_queue_.front()), on_written);
  }
}

void Connection::close_after_writes() {
  closing_ = true;
  if (!writing_) shut_down();
}

void Connection::shut_down() {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ignored;
  input_.close(ignored);
  if (output_) output_->close(ignored);
  if (callbacks_.on_closed) {
    auto on_closed = std::move(callbacks_.on_closed);
    callbacks_ = {};
    on_closed();
  }
}

}  // namespace gostub::server
