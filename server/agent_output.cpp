#include "server/agent_output.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace gostub::server {

void AgentOutput::add(std::string_view text, Clock::time_point now) {
  if (refilled_ == Clock::time_point{}) refilled_ = now;
  const std::chrono::duration<double> elapsed = now - refilled_;
  tokens_ = std::min(kBurst, tokens_ + elapsed.count() * kLinesPerSecond);
  refilled_ = now;
  if (tokens_ < 1 || pending_.size() + text.size() > kMaxPending) {
    ++dropped_since_notice_;
    ++dropped_total_;
    return;
  }
  tokens_ -= 1;
  if (dropped_since_notice_ != 0) {
    pending_ += fmt::format("gostub: {} dprintf line(s) dropped (limit {:g} a second)\n",
                            dropped_since_notice_, kLinesPerSecond);
    dropped_since_notice_ = 0;
  }
  pending_ += text;
}

std::string AgentOutput::take() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace gostub::server
