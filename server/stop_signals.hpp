// SIGTERM, SIGINT and SIGHUP sent to gostub itself, handled in the event loop: blocked from
// the start and read from a signalfd, so that gostub ends as it does at exit (a launched
// program killed, an attached one detached with its breakpoints removed) instead of dying
// with int3 bytes left in an attached program. SIGKILL cannot be caught: see the README.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>

namespace gostub::server {

// Blocks the three signals in the calling thread; call before anything is launched (the
// program starts with nothing blocked).
void block_stop_signals();

class StopSignals {
 public:
  StopSignals(boost::asio::io_context& io, std::function<void(int signal)> on_signal);

 private:
  void wait();

  boost::asio::posix::stream_descriptor descriptor_;
  std::function<void(int signal)> on_signal_;
};

}  // namespace gostub::server
