// The server's life: one io_context on the one thread that traces the program. It owns the
// listening socket, the client connection, SIGCHLD and the debugged programs (which outlive
// any client), so socket I/O and tracee events are handled by the same loop and no call ever
// blocks on the program running.
#pragma once

#include <sys/signalfd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "server/connection.hpp"
#include "server/gdb_session.hpp"
#include "server/listener.hpp"
#include "server/programs.hpp"
#include "server/traced_program.hpp"
#include "target/process.hpp"

namespace gostub::server {

// Blocks SIGCHLD in the calling thread, so that the server can read it from a signalfd; call
// before the program is started. The program itself starts with nothing blocked.
void block_child_signals();

struct ServerOptions {
  bool stdio = false;                    // RSP over stdin/stdout ("-")
  std::string host;                      // empty: loopback only
  std::uint16_t port = 0;                // 0: any free port
  std::string unix_path;                 // unix:PATH: a unix socket instead of TCP
  std::chrono::seconds idle_timeout{0};  // --idle-timeout: drop a silent client; 0: never
  bool once = false;                     // exit when the first client goes
  bool multi = false;                    // --multi: stay for clients that run or attach programs
  int connected_fd = -1;  // a client already connected (lldb-server's --fd, --reverse-connect)
  bool gdbserver_notices = true;  // "Listening on port N", "Remote debugging from host …"
  GoSettings settings;
  SessionOptions session;  // --disable-packet; how vRun starts programs
};

class Server {
 public:
  // `process`: the program gostub was started with; nullptr for none yet (--multi).
  Server(boost::asio::io_context& io, ServerOptions options,
         std::unique_ptr<target::Process> process);
  // Binds (TCP, or a unix socket) and prints "Listening on …". Returns false when the address
  // is unusable.
  bool listen();
  // The TCP port listened on, once listen() succeeded; 0 otherwise.
  std::uint16_t port() const;
  // Runs until gostub has nothing more to do. Returns the exit status.
  int run();
  // gostub was asked to end (SIGTERM, SIGINT, SIGHUP): as at exit, a launched program is
  // killed and an attached one detached with every breakpoint removed.
  void stop(int signal);

 private:
  void watch_children();
  // Lets every live program handle its wait statuses; false when gostub is done.
  bool handle_child_events();
  // After a packet: statuses one program's wait stashed for another are handled soon.
  void handle_stashed_events();
  void accept_next();
  void start_session(int input_fd, int output_fd);
  void on_session_closed();
  // Non-stop: every 250 ms, whether a Go stop-the-world waits for a thread the client keeps
  // stopped (told once per stop-the-world).
  void watch_stop_the_world();
  void finish();

  boost::asio::io_context& io_;
  ServerOptions options_;
  TracedProgramFactory factory_;
  Programs programs_;
  // SIGCHLD, blocked and read from a signalfd: however many threads stop at once, the loop
  // wakes once (Asio's signal_set runs a handler and writes a pipe for each).
  boost::asio::posix::stream_descriptor child_events_;
  boost::asio::steady_timer stop_the_world_timer_;
  std::set<pid_t> stop_the_world_told_;  // programs whose current one the client was told of
  // Read into, not waited on: Boost 1.74's reactor re-arms a descriptor with epoll_ctl at every
  // async_wait, where a read is tried at once and otherwise waits on the registration it has.
  std::array<signalfd_siginfo, 16> child_event_buffer_{};
  Listener listener_;
  std::shared_ptr<Connection> connection_;
  std::unique_ptr<GdbSession> session_;
  bool exit_requested_ = false;
  bool extended_mode_ = false;
  bool finished_ = false;
  int exit_status_ = 0;
};

}  // namespace gostub::server
