#include "server/stop_signals.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace gostub::server {

namespace {

sigset_t stop_signal_set() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

}  // namespace

void block_stop_signals() {
  const auto signals = stop_signal_set();
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
}

StopSignals::StopSignals(boost::asio::io_context& io, std::function<void(int signal)> on_signal)
    : descriptor_(io), on_signal_(std::move(on_signal)) {
  const auto signals = stop_signal_set();
  descriptor_.assign(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  wait();
}

void StopSignals::wait() {
  descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& error) {
                           if (error) return;
                           signalfd_siginfo info{};
                           if (::read(descriptor_.native_handle(), &info, sizeof info) ==
                               static_cast<ssize_t>(sizeof info)) {
                             on_signal_(static_cast<int>(info.ssi_signo));
                           }
                           wait();
                         });
}

}  // namespace gostub::server
