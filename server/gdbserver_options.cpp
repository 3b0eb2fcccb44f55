#include "server/gdbserver_options.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace gostub::server {

namespace {

// Calls `each` for every comma-separated word; stops at the first it refuses (returns false).
template <typename Each>
std::expected<void, std::string> for_each_word(std::string_view list, Each each) {
  while (true) {
    const auto comma = list.find(',');
    const auto word = list.substr(0, comma);
    if (!each(word)) return std::unexpected(std::string(word));
    if (comma == std::string_view::npos) return {};
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::expected<DisabledPackets, std::string> parse_disabled_packets(std::string_view list) {
  DisabledPackets disabled;
  auto parsed = for_each_word(list, [&](std::string_view word) {
    if (word == "vCont") {
      disabled.vcont = true;
    } else if (word == "Tthread") {
      disabled.stop_thread = true;
    } else if (word == "T") {
      disabled.t_replies = true;
    } else if (word == "qC") {
      disabled.current_thread = true;
    } else if (word == "qfThreadInfo") {
      disabled.thread_list = true;
    } else if (word == "threads") {
      disabled.vcont = disabled.stop_thread = disabled.current_thread = disabled.thread_list = true;
    } else {
      return false;
    }
    return true;
  });
  if (!parsed) return std::unexpected(parsed.error());
  return disabled;
}

std::string disabled_packets_help() {
  return "Disableable packets:\n"
         "  vCont       \tAll vCont packets\n"
         "  qC          \tQuerying the current thread\n"
         "  qfThreadInfo\tThread listing\n"
         "  Tthread     \tPassing the thread specifier in the T stop reply packet\n"
         "  threads     \tAll of the above\n"
         "  T           \tAll 'T' packets\n";
}

std::expected<bool, std::string> parse_debug_format(std::string_view list) {
  bool timestamps = false;
  auto parsed = for_each_word(list, [&](std::string_view word) {
    if (word == "all" || word == "timestamp") {
      timestamps = true;
    } else if (word == "none") {
      timestamps = false;
    } else {
      return false;
    }
    return true;
  });
  if (!parsed) return std::unexpected(parsed.error());
  return timestamps;
}

std::expected<EarlyOptions, std::string> take_early_options(const std::vector<std::string>& args) {
  EarlyOptions out;
  std::size_t i = 0;
  if (!args.empty()) out.rest.push_back(args[i++]);
  bool options_over = false;
  while (i < args.size()) {
    const auto& arg = args[i];
    // The options CLI11 reads that take their value as the next argument.
    static constexpr std::string_view kValued[] = {"--catch", "--idle-timeout", "--debug-file",
                                                   "--debug-format", "--disable-packet"};
    if (!options_over &&
        std::find(std::begin(kValued), std::end(kValued), arg) != std::end(kValued) &&
        i + 1 < args.size()) {
      out.rest.push_back(args[i++]);
      out.rest.push_back(args[i++]);
      continue;
    }
    if (options_over || !arg.starts_with("--")) {
      options_over = true;
      out.rest.push_back(args[i++]);
      continue;
    }
    if (arg == "--wrapper") {
      const auto first = ++i;
      while (i < args.size() && args[i] != "--") out.wrapper.push_back(args[i++]);
      if (i == args.size() || i == first) {
        return std::unexpected(std::string("--wrapper takes a command ended by '--'"));
      }
      ++i;  // the "--"
    } else if (arg == "--debug") {
      out.debug.threads = true;
      ++i;
    } else if (arg.starts_with("--debug=")) {
      auto parsed = for_each_word(std::string_view(arg).substr(8), [&](std::string_view word) {
        if (word == "all") {
          out.debug = {true, true, true};
        } else if (word == "threads") {
          out.debug.threads = true;
        } else if (word == "remote") {
          out.debug.remote = true;
        } else if (word == "event-loop") {
          out.debug.event_loop = true;
        } else {
          return false;
        }
        return true;
      });
      if (!parsed) {
        return std::unexpected(
            fmt::format("--debug: unknown component '{}' (all, threads, "
                        "remote, event-loop)",
                        parsed.error()));
      }
      ++i;
    } else {
      out.rest.push_back(args[i++]);
    }
  }
  return out;
}

}  // namespace gostub::server
