#include "server/connection.hpp"

#include <fmt/core.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include "server/debug_log.hpp"

namespace gostub::server {

namespace asio = boost::asio;

Connection::Connection(asio::io_context& io, int input_fd, int output_fd)
    : input_(io, input_fd), idle_timer_(io) {
  if (output_fd != input_fd)
    output_ = std::make_unique<asio::posix::stream_descriptor>(io, output_fd);
}

void Connection::start(Callbacks callbacks) {
  callbacks_ = std::move(callbacks);
  if (idle_timeout_.count() > 0) {
    note_activity();
    arm_idle_timer();
  }
  read_more();
}

void Connection::arm_idle_timer() {
  idle_timer_.expires_at(last_activity_ + idle_timeout_);
  idle_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& error) {
    const auto self = weak.lock();
    if (!self || error || !self->open_) return;
    // A client waiting for a reply (a stop) is not idle: its time starts with the reply.
    if (self->reply_owed_) self->note_activity();
    if (std::chrono::steady_clock::now() >= self->last_activity_ + self->idle_timeout_) {
      fmt::print(stderr, "gostub: no packet from the client for {} s (--idle-timeout): closing\n",
                 self->idle_timeout_.count());
      self->shut_down();
      return;
    }
    self->arm_idle_timer();
  });
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
        self->next_event_ = 0;
        self->decoder_.feed(std::string_view(self->read_buffer_.data(), length), self->events_);
        self->handle_events();
      });
}

void Connection::handle_events() {
  while (open_ && next_event_ < events_.size()) {
    if (unsent_bytes_ > kMaxUnsentBytes) {
      paused_ = true;  // write_next() takes up again once the client has read
      return;
    }
    handle_event(events_[next_event_++]);
  }
  if (open_ && !closing_) read_more();
}

void Connection::handle_event(protocol::InputEvent& event) {
  debug_log().print(DebugLog::Component::kEventLoop, "client: an event from the connection");
  if (auto* packet = std::get_if<protocol::PacketReceived>(&event)) {
    debug_log().print(DebugLog::Component::kRemote, "<- {}", packet->payload);
    note_activity();
    reply_owed_ = true;
    if (!no_ack_) send_raw("+");
    callbacks_.on_packet(packet->payload);
  } else if (std::holds_alternative<protocol::InterruptReceived>(event)) {
    debug_log().print(DebugLog::Component::kRemote, "<- ^C");
    note_activity();
    callbacks_.on_interrupt();
  } else if (std::holds_alternative<protocol::NackReceived>(event)) {
    if (!last_packet_.empty()) send_raw(last_packet_);
  } else if (auto* bad = std::get_if<protocol::BadPacketReceived>(&event)) {
    debug_log().print(DebugLog::Component::kRemote, "bad packet: {}", bad->reason);
    if (!no_ack_) send_raw("-");
  }
}

void Connection::send_packet(std::string_view payload) {
  if (!open_) return;
  debug_log().print(DebugLog::Component::kRemote, "-> {}", payload.substr(0, 512));
  // Console output ("O…") comes before the reply it belongs to; anything else answers.
  if (!payload.starts_with('O') || payload == "OK") {
    reply_owed_ = false;
    note_activity();
  }
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

void Connection::send_notification(std::string_view payload) {
  if (!open_) return;
  debug_log().print(DebugLog::Component::kRemote, "-> %{}", payload.substr(0, 512));
  // Not acknowledged and answers no packet: neither resent on a NAK nor a reply owed.
  send_raw(protocol::frame_notification(payload));
}

void Connection::send_raw(std::string bytes) {
  if (!open_) return;
  unsent_bytes_ += bytes.size();
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
    self->unsent_bytes_ -= self->write_queue_.front().size();
    if (self->spare_buffers_.size() < kSpareBuffers) {
      self->spare_buffers_.push_back(std::move(self->write_queue_.front()));
    }
    self->write_queue_.pop_front();
    self->write_next();
    if (self->paused_ && self->unsent_bytes_ <= kMaxUnsentBytes / 2) {
      self->paused_ = false;
      self->handle_events();
    }
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
  idle_timer_.cancel();
  if (callbacks_.on_closed) {
    auto on_closed = std::move(callbacks_.on_closed);
    callbacks_ = {};
    on_closed();
  }
}

}  // namespace gostub::server
