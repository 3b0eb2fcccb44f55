// Where clients come from: a TCP port (gdbserver's HOST:PORT) or a unix socket
// (unix:/path, created mode 0600 so that only this user can connect, removed when gostub
// ends). Accepts one client at a time and hands its descriptor over; knows nothing of RSP.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace gostub::server {

struct ListenAddress {
  std::string host;        // empty: loopback only
  std::uint16_t port = 0;  // 0: any free port
  std::string unix_path;   // non-empty: a unix socket instead of TCP
  bool notices = true;     // gdbserver's "Listening on …", "Remote debugging from …"
};

class Listener {
 public:
  explicit Listener(boost::asio::io_context& io) : io_(io) {}
  ~Listener() { close(); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds and prints gdbserver's "Listening on port N" (or "Listening on unix socket PATH").
  // Returns false, with gdbserver's message, when the address is unusable.
  bool listen(const ListenAddress& address);
  // Calls `accepted` with the client's descriptor (owned by the callee), or with -1 when the
  // listener failed; not at all when it was closed meanwhile.
  void accept(std::function<void(int fd)> accepted);
  void announce() const;       // "Listening on …" again, for the next client
  std::uint16_t port() const;  // the TCP port bound, 0 when none
  // Stops listening; a unix socket's file is removed.
  void close();

 private:
  boost::asio::io_context& io_;
  std::optional<boost::asio::ip::tcp::acceptor> tcp_;
  std::optional<boost::asio::local::stream_protocol::acceptor> unix_;
  std::string unix_path_;
  bool notices_ = true;
};

}  // namespace gostub::server
