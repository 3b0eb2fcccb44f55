// gostub started as lldb-server: the command line Delve and lldb's users give lldb-server.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/lldb_server_cli.hpp"

using gostub::server::LldbServerCommand;
using gostub::server::parse_lldb_server_command_line;
using Action = LldbServerCommand::Action;

namespace {

LldbServerCommand parse(std::vector<std::string> args) {
  return parse_lldb_server_command_line(args);
}

}  // namespace

TEST_CASE("lldb-server: recognised by the name it was started under") {
  CHECK(gostub::server::invoked_as_lldb_server("lldb-server"));
  CHECK(gostub::server::invoked_as_lldb_server("/tmp/x/lldb-server"));
  CHECK(gostub::server::invoked_as_lldb_server("/usr/bin/lldb-server-19"));
  CHECK_FALSE(gostub::server::invoked_as_lldb_server("gostub"));
  CHECK_FALSE(gostub::server::invoked_as_lldb_server("/opt/lldb-server/gostub"));
}

TEST_CASE("lldb-server gdbserver: Delve's launch and attach lines") {
  // pkg/proc/gdbserial LLDBLaunch: gdbserver 127.0.0.1:PORT -- PROG ARGS
  const auto launch = parse({"gdbserver", "127.0.0.1:4444", "--", "/bin/prog", "-v", "--x"});
  REQUIRE(launch.action == Action::kServe);
  CHECK(launch.address == "127.0.0.1:4444");
  CHECK(launch.program == std::vector<std::string>{"/bin/prog", "-v", "--x"});
  CHECK_FALSE(launch.attach_pid);
  // LLDBAttach: gdbserver --attach PID 127.0.0.1:PORT (the option before the address).
  const auto attach = parse({"gdbserver", "--attach", "1234", ":4444"});
  REQUIRE(attach.action == Action::kServe);
  CHECK(attach.attach_pid == 1234);
  CHECK(attach.address == ":4444");
  CHECK(attach.program.empty());
  // "g" abbreviates gdbserver; the program may follow the address without "--".
  const auto bare = parse({"g", "localhost:0", "/bin/prog", "arg"});
  REQUIRE(bare.action == Action::kServe);
  CHECK(bare.program == std::vector<std::string>{"/bin/prog", "arg"});
  // No program and no --attach: the client runs or attaches one.
  const auto none = parse({"gdbserver", "--attach=77", "[::1]:9"});
  CHECK(none.attach_pid == 77);
}

TEST_CASE("lldb-server gdbserver: connection and general options") {
  const auto options = parse({"gdbserver", "--native-regs", "--setsid", "--log-file", "/tmp/l",
                              "--log-channels", "gdb-remote packets", "--pipe", "5",
                              "--named-pipe=/tmp/p", "127.0.0.1:0", "--", "/bin/prog"});
  REQUIRE(options.action == Action::kServe);
  CHECK(options.setsid);
  CHECK(options.log_file == "/tmp/l");
  CHECK(options.log_packets);
  CHECK(options.port_pipe_fd == 5);
  CHECK(options.port_named_pipe == "/tmp/p");
  const auto fd = parse({"gdbserver", "--fd", "3", "--", "/bin/prog"});
  REQUIRE(fd.action == Action::kServe);
  CHECK(fd.connection_fd == 3);
  CHECK(fd.address.empty());
  CHECK(fd.program == std::vector<std::string>{"/bin/prog"});
  const auto reverse = parse({"gdbserver", "--reverse-connect", "127.0.0.1:5555"});
  CHECK(reverse.reverse_connect);
  CHECK_FALSE(parse({"gdbserver", "--log-channels", "lldb process", ":1"}).log_packets);
}

TEST_CASE("lldb-server: help, version, refusals and errors in lldb-server's words") {
  CHECK(parse({"gdbserver", "--help"}).action == Action::kHelp);
  CHECK(parse({"version"}).action == Action::kVersion);
  CHECK(parse({"v"}).action == Action::kVersion);
  const auto platform = parse({"platform", "--listen", "*:1234"});
  CHECK(platform.action == Action::kError);
  CHECK(platform.error.find("'platform' is not offered") != std::string::npos);
  CHECK(parse({}).action == Action::kError);
  CHECK(parse({"gdbserver"}).error == "no connection arguments");
  CHECK(parse({"gdbserver", "--bogus", ":1"}).error == "unknown argument '--bogus'");
  CHECK(parse({"gdbserver", ":1", "--attach"}).error == "argument to '--attach' is missing");
  CHECK(parse({"gdbserver", "--attach", "prog", ":1"}).error.find("by process id only") !=
        std::string::npos);
  CHECK(parse({"gdbserver", "--attach", "5", ":1", "--", "/bin/prog"}).action == Action::kError);
  CHECK(parse({"gdbserver", "--fd", "x", "--", "/bin/prog"}).action == Action::kError);
}
