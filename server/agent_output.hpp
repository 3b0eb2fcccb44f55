// Console text that breakpoint commands (gdb's agent dprintf) write while the program runs,
// waiting for the session to send it as O packets. Rate-limited: a line hit thousands of times
// a second must neither flood the client nor grow the server. A token bucket lets `burst`
// lines through at once and `per_second` after; lines past it are dropped and counted, and the
// next line that passes is preceded by a notice of how many were dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace gostub::server {

class AgentOutput {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double kLinesPerSecond = 100;
  static constexpr double kBurst = 100;
  // Text waiting for a client that does not come to take it is bounded too.
  static constexpr std::size_t kMaxPending = 64 * 1024;

  // One command's text (one dprintf hit) at `now`.
  void add(std::string_view text, Clock::time_point now = Clock::now());
  // Everything waiting, and nothing waits any more.
  std::string take();
  std::uint64_t dropped() const { return dropped_total_; }

 private:
  std::string pending_;
  double tokens_ = kBurst;
  Clock::time_point refilled_{};
  std::uint64_t dropped_since_notice_ = 0;
  std::uint64_t dropped_total_ = 0;
};

}  // namespace gostub::server
