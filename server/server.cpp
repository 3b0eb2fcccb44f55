#include "server/server.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>

namespace gostub::server {

namespace asio = boost::asio;
using asio::ip::tcp;

void block_child_signals() {
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &child, nullptr);
}

namespace {
int child_signal_fd() {
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  return ::signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC);
}
}  // namespace

Server::Server(asio::io_context& io, ServerOptions options,
               std::unique_ptr<target::Process> process)
    : io_(io),
      options_(std::move(options)),
      factory_(options_.settings, options_.log_packets),
      programs_(factory_),
      child_events_(io, child_signal_fd()) {
  if (process) programs_.add(factory_.adopt(std::move(process)));
}

bool Server::listen() {
  if (options_.stdio || options_.connected_fd >= 0) return true;
  boost::system::error_code error;
  asio::ip::address address = asio::ip::address_v4::loopback();
  if (!options_.host.empty()) {
    tcp::resolver resolver(io_);
    const auto results = resolver.resolve(options_.host, std::to_string(options_.port), error);
    if (error || results.empty()) {
      fmt::print(stderr, "Can't resolve address {}: {}.\nExiting\n", options_.host,
                 error.message());
      return false;
    }
    address = results.begin()->endpoint().address();
  }
  if (!address.is_loopback()) {
    fmt::print(stderr,
               "gostub: warning: listening on {}: anyone who can reach this port controls the "
               "program and can run code as this user.\n",
               address.to_string());
  }
  acceptor_.emplace(io_);
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_->open(endpoint.protocol(), error);
  if (!error) acceptor_->set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor_->bind(endpoint, error);
  if (!error) acceptor_->listen(1, error);
  if (error) {
    fmt::print(stderr, "Can't bind address: {}.\nExiting\n",
               error == asio::error::address_in_use ? "Address already in use" : error.message());
    return false;
  }
  if (options_.gdbserver_notices) {
    fmt::print(stderr, "Listening on port {}\n", acceptor_->local_endpoint().port());
  }
  return true;
}

std::uint16_t Server::port() const {
  if (!acceptor_ || !acceptor_->is_open()) return 0;
  boost::system::error_code error;
  const auto endpoint = acceptor_->local_endpoint(error);
  return error ? 0 : endpoint.port();
}

int Server::run() {
  watch_children();
  // Statuses that arrived before SIGCHLD was watched are still waiting in the kernel.
  if (auto* program = programs_.current()) (void)program->handle_wait_events();
  if (options_.stdio) {
    fmt::print(stderr, "Remote debugging using stdio\n");
    start_session(::dup(STDIN_FILENO), ::dup(STDOUT_FILENO));
  } else if (options_.connected_fd >= 0) {
    start_session(options_.connected_fd, options_.connected_fd);
  } else {
    accept_next();
  }
  io_.run();
  return 0;
}

void Server::watch_children() {
  child_events_.async_wait(
      asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& error) {
        if (error) return;
        std::array<signalfd_siginfo, 16> drained;
        while (::read(child_events_.native_handle(), drained.data(), sizeof drained) > 0) {
        }
        if (auto* program = programs_.current()) {
          if (auto report = program->handle_wait_events()) {
            if (session_) {
              session_->on_stop(*report);
            } else if (!program->alive() && !options_.multi) {
              finish();  // the program died with nobody attached
              return;
            }
          }
        }
        watch_children();
      });
}

void Server::accept_next() {
  acceptor_->async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
    if (error) {
      if (error != asio::error::operation_aborted) finish();
      return;
    }
    boost::system::error_code ignored;
    const auto peer = socket.remote_endpoint(ignored);
    if (options_.gdbserver_notices) {
      fmt::print(stderr, "Remote debugging from host {}, port {}\n", peer.address().to_string(),
                 peer.port());
    }
    socket.set_option(tcp::no_delay(true), ignored);
    if (options_.once) acceptor_->close(ignored);
    const int fd = ::dup(socket.native_handle());
    start_session(fd, fd);
  });
}

void Server::start_session(int input_fd, int output_fd) {
  connection_ = std::make_shared<Connection>(io_, input_fd, output_fd, options_.log_packets);
  session_ = std::make_unique<GdbSession>(programs_, connection_,
                                          GdbSession::Hooks{.request_exit =
                                                                [this] {
                                                                  exit_requested_ = true;
                                                                  connection_->close_after_writes();
                                                                }},
                                          options_.settings, options_.log_packets);
  connection_->start(Connection::Callbacks{
      .on_packet = [this](std::string_view payload) { session_->on_packet(payload); },
      .on_interrupt = [this] { session_->on_interrupt(); },
      .on_closed = [this] { asio::post(io_, [this] { on_session_closed(); }); },
  });
}

void Server::on_session_closed() {
  extended_mode_ = extended_mode_ || (session_ && session_->extended_mode());
  session_.reset();
  connection_.reset();
  if (exit_requested_ || options_.once || options_.stdio) return finish();
  auto* program = programs_.current();
  if ((program == nullptr || !program->alive()) && !extended_mode_ && !options_.multi) {
    return finish();  // nothing left to debug
  }
  // The next client finds the program stopped, as this one left it.
  if (program != nullptr && program->running()) (void)program->interrupt();
  fmt::print(stderr,
             "Remote side has terminated connection.  GDBserver will reopen the connection.\n");
  fmt::print(stderr, "Listening on port {}\n", acceptor_->local_endpoint().port());
  accept_next();
}

void Server::finish() {
  if (finished_) return;
  finished_ = true;
  programs_.end_all();
  boost::system::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  child_events_.cancel(ignored);
  io_.stop();
}

}  // namespace gostub::server
