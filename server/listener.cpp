#include "server/listener.hpp"

#include <fmt/core.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gostub::server {

namespace asio = boost::asio;
using asio::ip::tcp;
using local = asio::local::stream_protocol;

namespace {

// A socket file nobody listens on any more (its server was killed): safe to replace.
bool stale_socket(const std::string& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0 || !S_ISSOCK(status.st_mode)) return false;
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  const bool refused =
      ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
      errno == ECONNREFUSED;
  ::close(probe);
  return refused;
}

}  // namespace

bool Listener::listen(const ListenAddress& where) {
  notices_ = where.notices;
  boost::system::error_code error;
  if (!where.unix_path.empty()) {
    if (where.unix_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      fmt::print(stderr, "Can't bind address: unix socket path too long.\nExiting\n");
      return false;
    }
    if (stale_socket(where.unix_path)) ::unlink(where.unix_path.c_str());
    unix_.emplace(io_);
    unix_->open(local(), error);
    // Created 0600: whoever can connect controls the program and runs code as this user.
    const mode_t old_mask = ::umask(0177);
    if (!error) unix_->bind(local::endpoint(where.unix_path), error);
    ::umask(old_mask);
    if (!error) unix_->listen(1, error);
    if (error) {
      fmt::print(stderr, "Can't bind address: {}.\nExiting\n",
                 error == asio::error::address_in_use ? "Address already in use" : error.message());
      unix_.reset();
      return false;
    }
    unix_path_ = where.unix_path;
    announce();
    return true;
  }
  asio::ip::address address = asio::ip::address_v4::loopback();
  if (!where.host.empty()) {
    tcp::resolver resolver(io_);
    const auto results = resolver.resolve(where.host, std::to_string(where.port), error);
    if (error || results.empty()) {
      // gdbserver's words (gdb's testsuite and scripts look for "cannot resolve name").
      fmt::print(stderr, "{}:{}: cannot resolve name: {}\nExiting\n", where.host, where.port,
                 error ? error.message() : "no address");
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
  tcp_.emplace(io_);
  const tcp::endpoint endpoint(address, where.port);
  tcp_->open(endpoint.protocol(), error);
  if (!error) tcp_->set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) tcp_->bind(endpoint, error);
  if (!error) tcp_->listen(1, error);
  if (error) {
    fmt::print(stderr, "Can't bind address: {}.\nExiting\n",
               error == asio::error::address_in_use ? "Address already in use" : error.message());
    tcp_.reset();
    return false;
  }
  announce();
  return true;
}

std::uint16_t Listener::port() const {
  if (!tcp_ || !tcp_->is_open()) return 0;
  boost::system::error_code error;
  const auto endpoint = tcp_->local_endpoint(error);
  return error ? 0 : endpoint.port();
}

void Listener::announce() const {
  if (!notices_) return;
  if (unix_) {
    fmt::print(stderr, "Listening on unix socket {}\n", unix_path_);
  } else if (tcp_) {
    fmt::print(stderr, "Listening on port {}\n", tcp_->local_endpoint().port());
  }
}

void Listener::accept(std::function<void(int fd)> accepted) {
  if (unix_) {
    unix_->async_accept([accepted = std::move(accepted), notices = notices_](
                            const boost::system::error_code& error, local::socket socket) {
      if (error) {
        if (error != asio::error::operation_aborted) accepted(-1);
        return;
      }
      if (notices) fmt::print(stderr, "Remote debugging from unix socket\n");
      accepted(::dup(socket.native_handle()));
    });
    return;
  }
  if (!tcp_) return accepted(-1);
  tcp_->async_accept([accepted = std::move(accepted), notices = notices_](
                         const boost::system::error_code& error, tcp::socket socket) {
    if (error) return accepted(-1);
    boost::system::error_code ignored;
    const auto peer = socket.remote_endpoint(ignored);
    if (notices) {
      fmt::print(stderr, "Remote debugging from host {}, port {}\n", peer.address().to_string(),
                 peer.port());
    }
    socket.set_option(tcp::no_delay(true), ignored);
    accepted(::dup(socket.native_handle()));
  });
}

void Listener::close() {
  boost::system::error_code ignored;
  if (tcp_) tcp_->close(ignored);
  if (unix_) {
    unix_->close(ignored);
    unix_.reset();
    ::unlink(unix_path_.c_str());
  }
}

}  // namespace gostub::server
