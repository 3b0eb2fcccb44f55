// gostub's command line, which follows gdbserver's so that scripts, IDEs and gdb's testsuite
// boards that drive gdbserver drive gostub unchanged:
//   gostub [--once] [OPTIONS] [HOST]:PORT PROG [ARGS...]
//   gostub [OPTIONS] [HOST]:PORT --attach PID      gostub --attach [HOST]:PORT PID
//   gostub - PROG [ARGS...]                         (RSP over stdin/stdout)
//   gostub unix:/PATH PROG [ARGS...]                (a unix socket, mode 0600)
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <charconv>
#include <cstring>

#include "server/debug_log.hpp"
#include "server/gdbserver_options.hpp"
#include "server/lldb_server_cli.hpp"
#include "server/selftest.hpp"
#include "server/server.hpp"
#include "server/stop_signals.hpp"
#include "server/tools.hpp"
#include "symbols/runtime_layout.hpp"
#include "target/process.hpp"
#include "target/terminal.hpp"

namespace {

constexpr const char* kVersion = GOSTUB_VERSION;  // CMake's project version

struct Endpoint {
  bool stdio = false;
  std::string host;
  std::uint16_t port = 0;
  std::string unix_path;
};

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  if (text == "-" || text == "stdio") return Endpoint{true, {}, 0, {}};
  if (text.starts_with("unix:")) {
    if (text.size() == 5) return std::nullopt;
    return Endpoint{false, {}, 0, std::string(text.substr(5))};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return std::nullopt;
  }
  return Endpoint{false, host, static_cast<std::uint16_t>(port), {}};
}

}  // namespace

int main(int argc, char** argv) {
  // Started as lldb-server (a symlink by that name): lldb-server's command line instead.
  if (const auto status = gostub::server::run_as_lldb_server(argc, argv)) return *status;
  // --wrapper ... -- and --debug[=COMPONENTS] first: CLI11 reads neither form.
  auto early = gostub::server::take_early_options(std::vector<std::string>(argv, argv + argc));
  if (!early) {
    fmt::print(stderr, "gostub: {}\n", early.error());
    return 2;
  }
  CLI::App app{"gostub: a GDB remote debug server for Go programs on Linux"};
  app.footer(
      "Usage:\n"
      "  gostub [--once] [OPTIONS] [HOST]:PORT PROG [ARGS...]\n"
      "  gostub [OPTIONS] [HOST]:PORT --attach PID\n"
      "  gostub --multi [OPTIONS] [HOST]:PORT [PROG [ARGS...]]  (the client runs or attaches)\n"
      "  gostub [OPTIONS] - PROG [ARGS...]        (RSP over stdin/stdout)\n"
      "  gostub [OPTIONS] unix:/PATH PROG [ARGS...]  (a unix socket, mode 0600)\n"
      "  gostub [OPTIONS] - --attach PID          (RSP over stdin/stdout, e.g. kubectl exec -i)\n"
      "  gostub info PROG | symbolize [--inline] PROG ADDR... | lines PROG FUNC\n"
      "         | functions PROG | layout PROG | symbols PROG -o OUT   (read a Go binary)\n"
      "\n"
      ":PORT listens on 127.0.0.1 only; name a host (0.0.0.0, ::) to listen elsewhere.\n"
      "Then: gdb PROG -ex 'target remote HOST:PORT'; 'monitor help' lists gostub's commands.\n"
      "More in gostub(1): man gostub");
  bool once = false, attach = false, remote_debug = false, version = false,
       goroutine_threads = false, multi = false, event_loop_debug = false, selftest = false;
  app.add_flag("--once", once, "Exit when the first client disconnects");
  app.add_flag("--attach", attach, "Attach to the running process PID");
  app.add_flag("--multi", multi,
               "Start with no program, or keep going when it ends: the client runs one "
               "(gdb: target extended-remote, run; lldb: process launch) or attaches (vAttach)");
  app.add_flag("--remote-debug", remote_debug, "Log every packet (to stderr or --debug-file)");
  app.add_flag("--event-loop-debug", event_loop_debug, "Log what wakes the event loop");
  // Taken out before CLI11 reads the rest (take_early_options); listed here for --help.
  bool taken_early = false;  // never set: these never reach CLI11
  app.add_flag("--debug", taken_early,
               "Log launches, stops and resumes (--debug=all|threads|remote|"
               "event-loop[,...] picks components)");
  app.add_flag("--wrapper", taken_early,
               "--wrapper WRAPPER... -- : start programs through WRAPPER (e.g. "
               "env X=1), run by the shell like the program");
  std::string debug_file, debug_format, disabled_list;
  app.add_option("--debug-file", debug_file, "Write the debugging output to FILE");
  app.add_option("--debug-format", debug_format,
                 "all, none or timestamp (comma-separated): extra content in debugging output");
  app.add_option("--disable-packet", disabled_list,
                 "Disable packets (comma-separated): vCont, T, Tthread, qC, qfThreadInfo, or "
                 "threads (all but T)");
  bool with_shell = true, without_shell = false, no_aslr = true, with_aslr = false;
  app.add_flag("--startup-with-shell", with_shell,
               "Start programs as $SHELL -c 'exec PROG ARGS' (the default, as gdbserver)");
  app.add_flag("--no-startup-with-shell", without_shell,
               "Exec programs directly: no globbing or variable substitution");
  app.add_flag("--disable-randomization", no_aslr,
               "Start programs with address space randomization off (the default)");
  app.add_flag("--no-disable-randomization", with_aslr,
               "Leave address space randomization on when starting programs");
  app.add_flag("--selftest", selftest, "Run gostub's self tests and exit");
  app.add_flag("--version", version, "Print the version and exit");
  app.add_flag("--goroutine-threads", goroutine_threads,
               "Show every parked goroutine as a thread too (id 1000000000 + goroutine id)");
  std::string catch_list = "panic,throw";
  app.add_option("--catch", catch_list,
                 "Where to stop the program on gostub's own: a comma-separated list of panic "
                 "(unrecovered), throw (fatal errors), recovered-panic (every panic), or none")
      ->capture_default_str();
  unsigned idle_timeout = 0;
  app.add_option("--idle-timeout", idle_timeout,
                 "Disconnect a client that sends no packet for SECONDS while it waits for "
                 "nothing (0: never); the program is then treated as on any disconnect");
  app.prefix_command();
  try {
    auto rest_of_argv = early->rest;
    std::reverse(rest_of_argv.begin(), rest_of_argv.end());
    rest_of_argv.pop_back();  // argv[0]
    app.name("gostub");       // parse(vector) takes no program name from it
    app.parse(rest_of_argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (version) {
    fmt::print("gostub {}\nGo runtime layouts known (goroutines, wait reasons; linux/amd64):",
               kVersion);
    for (const int minor : gostub::symbols::known_go_minors()) fmt::print(" go1.{}", minor);
    fmt::print("\n");
    return 0;
  }
  if (selftest) return gostub::server::run_selftests();
  auto& log = gostub::server::debug_log();
  using Component = gostub::server::DebugLog::Component;
  log.enable(Component::kThreads, early->debug.threads);
  log.enable(Component::kRemote, remote_debug || early->debug.remote);
  log.enable(Component::kEventLoop, event_loop_debug || early->debug.event_loop);
  if (!debug_file.empty() && !log.open_file(debug_file)) {
    fmt::print(stderr, "gostub: cannot open --debug-file {}: {}\n", debug_file,
               std::strerror(errno));
    return 2;
  }
  if (!debug_format.empty()) {
    const auto timestamps = gostub::server::parse_debug_format(debug_format);
    if (!timestamps) {
      fmt::print(stderr, "gostub: --debug-format: unknown '{}' (all, none, timestamp)\n",
                 timestamps.error());
      return 2;
    }
    log.set_timestamps(*timestamps);
  }
  gostub::server::SessionOptions session;
  if (!disabled_list.empty()) {
    auto disabled = gostub::server::parse_disabled_packets(disabled_list);
    if (!disabled) {
      // gdbserver's words, then the list.
      fmt::print(stderr, "Don't know how to disable \"{}\".\n\n{}", disabled.error(),
                 gostub::server::disabled_packets_help());
      return 1;
    }
    session.disabled = *disabled;
  }
  session.launch.wrapper = early->wrapper;
  session.launch.startup_with_shell = with_shell && !without_shell;
  session.launch.disable_address_randomization = no_aslr && !with_aslr;
  auto rest = app.remaining();
  if (const auto status = gostub::server::run_tool(rest)) return *status;
  if (rest.size() >= 2 && rest[1] == "--attach") {
    attach = true;
    rest.erase(rest.begin() + 1);
  }
  if (rest.size() < (multi ? 1u : 2u)) {
    fmt::print(stderr, "{}", app.help());
    return 2;
  }
  const auto endpoint = parse_endpoint(rest[0]);
  if (!endpoint) {
    fmt::print(stderr, "gostub: '{}' is not [HOST]:PORT, unix:/PATH or '-'\n", rest[0]);
    return 2;
  }
  // Every program gostub starts (here, or later by vRun and R): over stdio the program's output
  // must not mix with the packets; otherwise, as gdbserver, it takes gostub's terminal (its
  // reads from the terminal would stop it with SIGTTIN, and Ctrl-C there reaches it).
  session.launch.stdout_to_stderr = endpoint->stdio;
  session.launch.take_terminal = !endpoint->stdio;

  gostub::server::GoSettings settings{false, false, false, goroutine_threads};
  for (std::string_view list = catch_list; !list.empty();) {
    const auto comma = list.find(',');
    const auto item = list.substr(0, comma);
    if (item == "panic") {
      settings.panic = true;
    } else if (item == "throw") {
      settings.fatal_error = true;
    } else if (item == "recovered-panic") {
      settings.recovered_panic = true;
    } else if (item != "none") {
      fmt::print(stderr, "gostub: --catch: unknown '{}'\n", item);
      return 2;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }

  ::signal(SIGPIPE, SIG_IGN);
  gostub::server::block_child_signals();
  gostub::server::block_stop_signals();
  // No program yet (--multi alone): the client runs or attaches one.
  gostub::target::Result<std::unique_ptr<gostub::target::Process>> process{nullptr};
  if (multi && rest.size() == 1) {
    // nothing to start
  } else if (attach) {
    int pid = 0;
    const auto& text = rest[1];
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
    if (error != std::errc() || end != text.data() + text.size() || rest.size() != 2) {
      fmt::print(stderr, "gostub: --attach takes one process id, not '{}'\n", text);
      return 2;
    }
    process = gostub::target::Process::attach(pid);
    if (process) fmt::print(stderr, "Attached; pid = {}\n", pid);
  } else {
    auto launch = session.launch;
    launch.argv.assign(rest.begin() + 1, rest.end());
    session.launch.argv = launch.argv;  // what a restart (R) runs again
    process = gostub::target::Process::launch(launch);
    if (process) {
      fmt::print(stderr, "Process {} created; pid = {}\n", (*process)->executable(),
                 (*process)->pid());
    }
  }
  if (!process) {
    fmt::print(stderr, "{}\nExiting\n", process.error().message);
    return 1;
  }

  boost::asio::io_context io;
  gostub::server::Server server(
      io,
      gostub::server::ServerOptions{.stdio = endpoint->stdio,
                                    .host = endpoint->host,
                                    .port = endpoint->port,
                                    .unix_path = endpoint->unix_path,
                                    .idle_timeout = std::chrono::seconds(idle_timeout),
                                    .once = once,
                                    .multi = multi,
                                    .settings = settings,
                                    .session = session},
      std::move(*process));
  gostub::server::StopSignals stop_signals(io, [&server](int signal) { server.stop(signal); });
  int status = 1;
  if (server.listen()) status = server.run();
  // Give the terminal back to gostub's own process group when the program had it.
  gostub::target::give_terminal(STDIN_FILENO, ::getpgrp());
  return status;
}
