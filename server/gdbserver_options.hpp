// The parts of gdbserver's command line that CLI11 cannot read as they are written
// (`--wrapper WRAPPER... --`, `--debug[=COMPONENTS]`) and the values of --disable-packet and
// --debug-format: pure functions over the arguments, so the unit tests cover them.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace gostub::server {

// --disable-packet: what gdbserver can be told not to support (its testing aid for clients).
struct DisabledPackets {
  bool vcont = false;           // vCont and vCont? get the empty reply
  bool stop_thread = false;     // Tthread: no "thread:" in T stop replies
  bool t_replies = false;       // T: stops told with S (signal only)
  bool current_thread = false;  // qC
  bool thread_list = false;     // qfThreadInfo, qsThreadInfo
};
// "vCont,qC": the switches; the unknown word otherwise.
std::expected<DisabledPackets, std::string> parse_disabled_packets(std::string_view list);
// What `gostub --disable-packet=foo` prints before its usage, as gdbserver does.
std::string disabled_packets_help();

// --debug-format and `monitor set debug-format`: all, none, timestamp (comma-separated). The
// timestamp switch; the unknown word otherwise.
std::expected<bool, std::string> parse_debug_format(std::string_view list);

struct DebugComponents {
  bool threads = false, remote = false, event_loop = false;
};

// The options gostub takes out of argv before CLI11 reads the rest (argv[0] stays).
struct EarlyOptions {
  std::vector<std::string> wrapper;  // --wrapper WRAPPER... --
  DebugComponents debug;             // --debug, --debug=all|threads|remote|event-loop,...
  std::vector<std::string> rest;
};
// Only the options before the first non-option argument are looked at: what follows is the
// address and the program's own command line. An error says what is wrong.
std::expected<EarlyOptions, std::string> take_early_options(const std::vector<std::string>& args);

}  // namespace gostub::server
