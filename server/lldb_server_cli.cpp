#include "server/lldb_server_cli.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <charconv>
#include <cstdio>

#include "server/debug_log.hpp"
#include "server/server.hpp"
#include "target/process.hpp"
#include "target/terminal.hpp"

namespace gostub::server {

namespace {

constexpr std::string_view kUsage =
    "OVERVIEW: lldb-server (gostub)\n"
    "\n"
    "USAGE: lldb-server g[dbserver] [options] [[host]:port] [[--] program args...]\n"
    "\n"
    "CONNECTION:\n"
    "  --fd <fd>           Communicate over the given file descriptor.\n"
    "  --named-pipe <name> Write port lldb-server will listen on to the given named pipe.\n"
    "  --pipe <fd>         Write port lldb-server will listen on to the given file descriptor.\n"
    "  --reverse-connect   Connect to the client instead of passively waiting for a "
    "connection.\n"
    "\n"
    "GENERAL OPTIONS:\n"
    "  --help            Prints out the usage information for lldb-server.\n"
    "  --log-channels <channels> Channels to log; \"gdb-remote packets\" logs every packet.\n"
    "  --log-file <file> Destination file to log to. If empty, log to stderr.\n"
    "  --setsid          Run lldb-server in a new session.\n"
    "\n"
    "TARGET SELECTION:\n"
    "  --attach <pid>    Attach to the process given by a (numeric) process id.\n"
    "  -- program args   Launch program for debugging.\n"
    "\n"
    "This is gostub, a debug server for Go programs, started as lldb-server: it serves the\n"
    "gdbserver subcommand only.\n";

constexpr std::string_view kTopUsage =
    "Usage:\n"
    "  lldb-server v[ersion]\n"
    "  lldb-server g[dbserver] [options]\n"
    "(gostub started as lldb-server: the platform subcommand is not offered)\n";

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

LldbServerCommand failed(std::string message) {
  LldbServerCommand command;
  command.action = LldbServerCommand::Action::kError;
  command.error = std::move(message);
  return command;
}

LldbServerCommand parse_gdbserver(std::span<const std::string> args) {
  LldbServerCommand command;
  command.action = LldbServerCommand::Action::kServe;
  bool have_address = false;
  std::optional<std::string> attach;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--") {
      command.program.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (!arg.starts_with("-") || arg == "-") {
      if (!have_address && !command.connection_fd) {
        command.address = arg;
        have_address = true;
        continue;
      }
      command.program.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    // --name VALUE or --name=VALUE (LLVM's option parser takes both; -name too).
    std::string_view name = arg.substr(arg.starts_with("--") ? 2 : 1);
    std::optional<std::string> inline_value;
    if (const auto equals = name.find('='); equals != std::string_view::npos) {
      inline_value = std::string(name.substr(equals + 1));
      name = name.substr(0, equals);
    }
    const auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (name == "help" || name == "h") {
      command.action = LldbServerCommand::Action::kHelp;
      return command;
    }
    if (name == "reverse-connect") {
      command.reverse_connect = true;
    } else if (name == "setsid") {
      command.setsid = true;
    } else if (name == "native-regs") {
      // Older lldb-servers' choice of register set; gostub has one.
    } else if (name == "attach" || name == "fd" || name == "pipe" || name == "named-pipe" ||
               name == "log-file" || name == "log-channels") {
      auto text = value();
      if (!text) return failed(fmt::format("argument to '--{}' is missing", name));
      if (name == "attach") {
        attach = *text;
      } else if (name == "log-file") {
        command.log_file = *text;
      } else if (name == "log-channels") {
        command.log_packets = text->find("packets") != std::string::npos;
      } else if (name == "named-pipe") {
        command.port_named_pipe = *text;
      } else {
        const auto fd = parse_int(*text);
        if (!fd || *fd < 0) return failed(fmt::format("invalid '--{}' argument '{}'", name, *text));
        (name == "fd" ? command.connection_fd : command.port_pipe_fd) = *fd;
      }
    } else {
      return failed(fmt::format("unknown argument '{}'", arg));
    }
  }
  if (attach) {
    const auto pid = parse_int(*attach);
    if (!pid || *pid <= 0) {
      return failed(fmt::format(
          "failed to attach to process named '{}': gostub attaches by process id only", *attach));
    }
    if (!command.program.empty())
      return failed("--attach and a program to launch exclude each other");
    command.attach_pid = *pid;
  }
  if (!command.connection_fd && !have_address) return failed("no connection arguments");
  if (command.connection_fd && command.reverse_connect) {
    return failed("--fd and --reverse-connect exclude each other");
  }
  return command;
}

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

std::optional<HostPort> split_address(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto port = parse_int(text.substr(colon + 1));
  if (!port || *port < 0 || *port > 65535) return std::nullopt;
  return HostPort{host, static_cast<std::uint16_t>(*port)};
}

// --reverse-connect: the client listens, gostub connects.
int connect_to(const HostPort& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string host = address.host.empty() ? "localhost" : address.host;
  if (::getaddrinfo(host.c_str(), std::to_string(address.port).c_str(), &hints, &found) != 0) {
    return -1;
  }
  int fd = -1;
  for (auto* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    fd = ::socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC,
                  candidate->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, candidate->ai_addr, candidate->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd >= 0) {
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
  return fd;
}

// --pipe/--named-pipe: the port as decimal text and a NUL, as lldb-server writes it.
bool write_port(int fd, std::uint16_t port) {
  const auto text = std::to_string(port);
  return ::write(fd, text.c_str(), text.size() + 1) == static_cast<ssize_t>(text.size() + 1);
}

int serve(const LldbServerCommand& command) {
  if (!command.log_file.empty() && std::freopen(command.log_file.c_str(), "a", stderr) == nullptr) {
    fmt::print(stdout, "error: could not open log file '{}'\n", command.log_file);
    return 1;
  }
  if (command.setsid) (void)::setsid();
  HostPort address;
  if (!command.connection_fd) {
    const auto parsed = split_address(command.address);
    if (!parsed) {
      fmt::print(stderr, "error: invalid host:port specification: '{}'\n", command.address);
      return 1;
    }
    address = *parsed;
  }

  ::signal(SIGPIPE, SIG_IGN);
  block_child_signals();
  target::Result<std::unique_ptr<target::Process>> process{nullptr};
  if (command.attach_pid) {
    process = target::Process::attach(*command.attach_pid);
    if (!process) {
      fmt::print(stderr, "error: failed to attach to pid {}: {}\n", *command.attach_pid,
                 process.error().message);
      return 1;
    }
  } else if (!command.program.empty()) {
    target::LaunchOptions launch;
    launch.argv = command.program;
    launch.take_terminal = ::isatty(STDIN_FILENO) != 0;
    process = target::Process::launch(launch);
    if (!process) {
      fmt::print(stderr, "error: failed to launch '{}': {}\n", command.program.front(),
                 process.error().message);
      return 1;
    }
    fmt::print(stdout, "Launched '{}' as process {}...\n", command.program.front(),
               (*process)->pid());
    std::fflush(stdout);
  }

  int connected_fd = command.connection_fd.value_or(-1);
  if (command.reverse_connect) {
    connected_fd = connect_to(address);
    if (connected_fd < 0) {
      fmt::print(stderr, "error: failed to connect to client at '{}'\n", command.address);
      if (*process) (*process)->kill();
      return 1;
    }
  }

  GoSettings settings{
      .panic = false, .fatal_error = false, .recovered_panic = false, .goroutine_threads = false};
  boost::asio::io_context io;
  debug_log().enable(DebugLog::Component::kRemote, command.log_packets);
  Server server(io,
                ServerOptions{.stdio = false,
                              .host = address.host,
                              .port = address.port,
                              .unix_path = {},
                              .idle_timeout = std::chrono::seconds{0},
                              .once = true,
                              .multi = !*process,
                              .connected_fd = connected_fd,
                              .gdbserver_notices = false,
                              .settings = settings,
                              .session = {}},
                std::move(*process));
  if (!server.listen()) return 1;
  if (connected_fd < 0) {
    const auto port = server.port();
    if (command.port_pipe_fd && !write_port(*command.port_pipe_fd, port)) {
      fmt::print(stderr, "error: failed to write to the pipe {}\n", *command.port_pipe_fd);
    }
    if (!command.port_named_pipe.empty()) {
      const int fd = ::open(command.port_named_pipe.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || !write_port(fd, port)) {
        fmt::print(stderr, "error: failed to write to the named pipe '{}'\n",
                   command.port_named_pipe);
      }
      if (fd >= 0) ::close(fd);
    }
  }
  const int status = server.run();
  target::give_terminal(STDIN_FILENO, ::getpgrp());
  return status;
}

}  // namespace

bool invoked_as_lldb_server(std::string_view argv0) {
  const auto slash = argv0.rfind('/');
  const auto name = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  return name == "lldb-server" || name.starts_with("lldb-server-");
}

LldbServerCommand parse_lldb_server_command_line(std::span<const std::string> args) {
  if (args.empty()) return failed("no subcommand");
  const std::string_view subcommand = args.front();
  if (subcommand == "g" || subcommand == "gdbserver") return parse_gdbserver(args.subspan(1));
  if (subcommand == "v" || subcommand == "version") {
    LldbServerCommand command;
    command.action = LldbServerCommand::Action::kVersion;
    return command;
  }
  if (subcommand == "p" || subcommand == "platform") {
    return failed(
        "gostub, started as lldb-server, serves the gdbserver subcommand only: 'platform' is "
        "not offered");
  }
  return failed(fmt::format("unknown subcommand '{}'", subcommand));
}

std::optional<int> run_as_lldb_server(int argc, char** argv) {
  if (argc < 1 || !invoked_as_lldb_server(argv[0])) return std::nullopt;
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto command = parse_lldb_server_command_line(args);
  switch (command.action) {
    case LldbServerCommand::Action::kVersion:
      fmt::print("lldb-server: gostub, a debug server for Go programs (gdbserver only)\n");
      return 0;
    case LldbServerCommand::Action::kHelp:
      fmt::print("{}", kUsage);
      return 0;
    case LldbServerCommand::Action::kError:
      fmt::print(stderr, "error: {}\n", command.error);
      if (args.empty() || (args.front() != "g" && args.front() != "gdbserver")) {
        fmt::print(stderr, "{}", kTopUsage);
      } else {
        fmt::print(stderr,
                   "Use 'lldb-server g[dbserver] --help' for a complete list of options.\n");
      }
      return 1;
    case LldbServerCommand::Action::kServe:
      return serve(command);
  }
  return 1;
}

}  // namespace gostub::server
