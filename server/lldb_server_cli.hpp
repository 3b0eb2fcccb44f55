// gostub started as `lldb-server` (a symlink named so, found on PATH): lldb-server's own
// command line, so that clients which start lldb-server themselves — Delve's
// `--backend=lldb`, `dlv dap` with backend lldb — start gostub instead:
//   lldb-server gdbserver [OPTIONS] [HOST]:PORT [--] PROG ARGS...
//   lldb-server gdbserver [OPTIONS] --attach PID [HOST]:PORT
//   lldb-server gdbserver [OPTIONS] [HOST]:PORT        (the client runs or attaches)
// with lldb-server's connection options (--fd, --reverse-connect, --pipe, --named-pipe) and
// messages. Other subcommands (platform) are refused. gostub's Go extras that would surprise
// such a client are off: no catch points of its own (Delve sets its own panic breakpoints),
// no goroutine threads (Delve reads goroutines itself).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gostub::server {

struct LldbServerCommand {
  enum class Action : std::uint8_t { kServe, kVersion, kHelp, kError };
  Action action = Action::kError;
  std::string error;                 // kError: lldb-server's message, without "error: "
  std::string address;               // [HOST]:PORT; empty with --fd
  std::vector<std::string> program;  // PROG ARGS; empty: attach, or none yet
  std::optional<int> attach_pid;
  std::optional<int> connection_fd;  // --fd N: an already connected socket
  std::optional<int> port_pipe_fd;   // --pipe FD: write the port listened on there
  std::string port_named_pipe;       // --named-pipe PATH: the same, to a named pipe
  bool reverse_connect = false;      // connect to ADDRESS rather than listen on it
  bool setsid = false;
  std::string log_file;      // --log-file
  bool log_packets = false;  // --log-channels naming "packets"
};

// Whether argv[0] names lldb-server ("lldb-server", "lldb-server-19", a path to either).
bool invoked_as_lldb_server(std::string_view argv0);
// Parses the arguments after argv[0].
LldbServerCommand parse_lldb_server_command_line(std::span<const std::string> args);
// When started as lldb-server: does everything and returns the exit status; nullopt when
// argv[0] is gostub's own name (then main parses gostub's command line).
std::optional<int> run_as_lldb_server(int argc, char** argv);

}  // namespace gostub::server
