// symbols/'s view of the traced program's memory (symbols knows nothing of ptrace).
#pragma once

#include <memory>
#include <vector>

#include "symbols/go_runtime.hpp"
#include "target/process.hpp"

namespace gostub::server {

class ProcessMemory : public symbols::MemoryReader {
 public:
  explicit ProcessMemory(const target::Process& process) : process_(process) {}
  bool read(std::uint64_t address, std::span<char> out) const override {
    const auto got = process_.read_memory_into(address, out);
    return got && *got == out.size();
  }
  void read_many(std::span<Request> requests) const override {
    std::vector<target::Process::MemoryRange> ranges;
    ranges.reserve(requests.size());
    for (const auto& request : requests) ranges.push_back({request.address, request.out});
    const auto ok = std::make_unique<bool[]>(requests.size());
    process_.read_memory_many(ranges, std::span(ok.get(), requests.size()));
    for (std::size_t i = 0; i < requests.size(); ++i) requests[i].ok = ok[i];
  }

 private:
  const target::Process& process_;
};

}  // namespace gostub::server
