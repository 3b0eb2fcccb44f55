#include "server/selftest.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <functional>
#include <string>
#include <vector>

#include "protocol/commands.hpp"
#include "protocol/framing.hpp"
#include "protocol/hex.hpp"
#include "protocol/signals.hpp"
#include "server/gdbserver_options.hpp"
#include "target/process.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

struct Selftest {
  const char* name;
  std::function<std::string()> run;  // empty: passed; else why not
};

std::string framing() {
  const std::string payload = "qSupported:multiprocess+;swbreak+";
  protocol::Decoder decoder;
  std::vector<protocol::InputEvent> events;
  decoder.feed(protocol::frame(payload), events);
  const auto* packet =
      events.size() == 1 ? std::get_if<protocol::PacketReceived>(&events[0]) : nullptr;
  if (packet == nullptr) return "a framed packet is not read back as one packet";
  if (packet->payload != payload) return "a framed packet changes on the way back";
  if (protocol::unescape_binary(protocol::escape_binary("$#}*")) != "$#}*") {
    return "binary escaping does not round-trip";
  }
  return {};
}

std::string commands() {
  for (const char* payload : {"qSupported:multiprocess+", "vCont;c", "Z0,401000,1", "m0,8", "?"}) {
    if (!protocol::parse_command(payload)) return fmt::format("'{}' is not parsed", payload);
  }
  if (protocol::parse_command("m,")) return "a malformed 'm' is accepted";
  return {};
}

std::string signals() {
  for (int signal = 1; signal < 32; ++signal) {
    if (signal == SIGSTKFLT) continue;  // gdb has no number for it
    if (protocol::linux_signal_from_gdb(protocol::gdb_signal_from_linux(signal)) != signal) {
      return fmt::format("signal {} does not round-trip through gdb's numbering", signal);
    }
  }
  return {};
}

std::string options() {
  if (!parse_disabled_packets("threads,T") || parse_disabled_packets("bogus")) {
    return "--disable-packet is misread";
  }
  return {};
}

std::string registers() {
  if (target::register_file_size() == 0) return "no register file";
  return {};
}

std::string trace_a_program() {
  target::LaunchOptions options;
  options.argv = {"/bin/true"};
  options.take_terminal = false;
  auto process = target::Process::launch(options);
  if (!process) return process.error().message;
  auto& traced = **process;
  if (!traced.read_registers(traced.pid())) return "the registers of a stopped program";
  if (!traced.read_memory(*traced.read_pc(traced.pid()), 1)) return "the memory of a program";
  const auto end = traced.kill();
  if (end.kind != target::StopEvent::Kind::kTerminated) return "a program does not die on kill";
  return {};
}

}  // namespace

int run_selftests() {
  const Selftest tests[] = {
      {"protocol framing", framing}, {"protocol commands", commands},
      {"signal numbers", signals},   {"command-line lists", options},
      {"register file", registers},  {"trace a program", trace_a_program},
  };
  int failed = 0;
  for (const auto& test : tests) {
    fmt::print("Running selftest {}.\n", test.name);
    if (const auto why = test.run(); !why.empty()) {
      fmt::print("Self test failed: {}\n", why);
      ++failed;
    }
  }
  fmt::print("Ran {} unit tests, {} failed\n", std::size(tests), failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace gostub::server
