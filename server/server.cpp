#include "server/server.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "server/debug_log.hpp"

namespace gostub::server {

namespace asio = boost::asio;

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
      factory_(options_.settings),
      programs_(factory_),
      child_events_(io, child_signal_fd()),
      stop_the_world_timer_(io),
      listener_(io) {
  if (process) programs_.add(factory_.adopt(std::move(process)));
}

bool Server::listen() {
  if (options_.stdio || options_.connected_fd >= 0) return true;
  return listener_.listen(ListenAddress{.host = options_.host,
                                        .port = options_.port,
                                        .unix_path = options_.unix_path,
                                        .notices = options_.gdbserver_notices});
}

std::uint16_t Server::port() const {
  return listener_.port();
}

int Server::run() {
  watch_children();
  watch_stop_the_world();
  // Statuses that arrived before SIGCHLD was watched are still waiting in the kernel.
  for (auto* program : programs_.live()) (void)program->handle_wait_events();
  if (options_.stdio) {
    fmt::print(stderr, "Remote debugging using stdio\n");
    start_session(::dup(STDIN_FILENO), ::dup(STDOUT_FILENO));
  } else if (options_.connected_fd >= 0) {
    start_session(options_.connected_fd, options_.connected_fd);
  } else {
    accept_next();
  }
  io_.run();
  return exit_status_;
}

void Server::stop(int signal) {
  fmt::print(stderr, "gostub: {}: ending\n", ::strsignal(signal));
  exit_status_ = 128 + signal;
  finish();
}

void Server::watch_children() {
  child_events_.async_read_some(asio::buffer(child_event_buffer_),
                                [this](const boost::system::error_code& error, std::size_t) {
                                  if (error) return;
                                  // SIGCHLD does not queue: one read takes it, however many
                                  // children changed state.
                                  debug_log().print(DebugLog::Component::kEventLoop,
                                                    "SIGCHLD: reaping wait statuses");
                                  if (!handle_child_events()) return;
                                  watch_children();
                                });
}

bool Server::handle_child_events() {
  // Every live program looks, not only the current one: one program's wait may have reaped
  // another's statuses (the WaitRouter keeps them for it), and a kept fork child or a second
  // inferior reports on its own.
  std::vector<pid_t> pids;
  for (auto* program : programs_.live()) pids.push_back(program->pid());
  for (const pid_t pid : pids) {
    auto* program = programs_.find(pid);
    if (program == nullptr || !program->alive()) continue;
    while (auto report = program->handle_wait_events()) {
      debug_log().print(DebugLog::Component::kThreads,
                        "process {}: thread {} stopped (kind {}, signal {})", program->pid(),
                        report->stop.tid, static_cast<int>(report->stop.kind), report->stop.signal);
      if (session_) session_->on_stop(*program, *report);
      // Non-stop: one SIGCHLD may stand for several threads' stops; each is told.
      if (!program->alive() || (!program->non_stop() && !program->has_stashed_events())) break;
    }
    // Text breakpoint commands printed at hits that were passed (agent dprintf).
    if (session_ && program->alive()) session_->on_program_output(*program);
  }
  // Non-stop: a program that stopped early (statuses still waiting) is looked at again after
  // the client's packets have had their turn.
  handle_stashed_events();
  if (!session_ && programs_.live().empty() && !options_.multi && programs_.current() != nullptr) {
    finish();  // the program died with nobody attached
    return false;
  }
  return true;
}

void Server::watch_stop_the_world() {
  stop_the_world_timer_.expires_after(std::chrono::milliseconds(250));
  stop_the_world_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error || finished_) return;
    if (session_) {
      for (auto* program : programs_.live()) {
        // All-stop stops every thread at once: only non-stop can hold a stop-the-world up.
        const auto world =
            program->non_stop() && program->running() ? program->stop_the_world() : std::nullopt;
        if (!world || !world->waiting) {
          stop_the_world_told_.erase(program->pid());
        } else if (!world->held_by.empty() && !stop_the_world_told_.contains(program->pid())) {
          const auto text = describe(*world);
          if (session_->on_console(text)) {
            fmt::print(stderr, "{}", text);
            stop_the_world_told_.insert(program->pid());
          }
        }
      }
    }
    watch_stop_the_world();
  });
}

void Server::handle_stashed_events() {
  if (programs_.any_live([](const Program& program) { return program.has_stashed_events(); })) {
    asio::post(io_, [this] { (void)handle_child_events(); });
  }
}

void Server::accept_next() {
  listener_.accept([this](int fd) {
    if (fd < 0) return finish();
    if (options_.once) listener_.close();
    start_session(fd, fd);
  });
}

void Server::start_session(int input_fd, int output_fd) {
  connection_ = std::make_shared<Connection>(io_, input_fd, output_fd);
  connection_->set_idle_timeout(options_.idle_timeout);
  session_ = std::make_unique<GdbSession>(programs_, connection_,
                                          GdbSession::Hooks{.request_exit =
                                                                [this] {
                                                                  exit_requested_ = true;
                                                                  connection_->close_after_writes();
                                                                }},
                                          options_.settings, options_.session);
  connection_->start(Connection::Callbacks{
      .on_packet =
          [this](std::string_view payload) {
            session_->on_packet(payload);
            handle_stashed_events();
          },
      .on_interrupt = [this] { session_->on_interrupt(); },
      .on_closed = [this] { asio::post(io_, [this] { on_session_closed(); }); },
  });
}

void Server::on_session_closed() {
  extended_mode_ = extended_mode_ || (session_ && session_->extended_mode());
  // Nobody to tell of forks now: children are let go again.
  for (auto* program : programs_.live()) program->set_fork_events(false, false);
  // The next client starts in all-stop (gdb asks for non-stop again if it wants it).
  for (auto* program : programs_.live()) program->set_non_stop(false);
  session_.reset();
  connection_.reset();
  if (exit_requested_ || options_.once || options_.stdio) return finish();
  const auto live = programs_.live();
  if (live.empty() && !extended_mode_ && !options_.multi) {
    return finish();  // nothing left to debug
  }
  // The next client finds every program stopped, as this one left them.
  for (auto* program : live) {
    if (program->running()) (void)program->interrupt();
  }
  fmt::print(stderr,
             "Remote side has terminated connection.  GDBserver will reopen the connection.\n");
  listener_.announce();
  accept_next();
}

void Server::finish() {
  if (finished_) return;
  finished_ = true;
  programs_.end_all();
  boost::system::error_code ignored;
  listener_.close();
  child_events_.cancel(ignored);
  stop_the_world_timer_.cancel();
  io_.stop();
}

}  // namespace gostub::server
