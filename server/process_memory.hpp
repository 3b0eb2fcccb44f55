// symbols/'s view of the traced program's memory (symbols knows nothing of ptrace).
#pragma once

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

 private:
  const target::Process& process_;
};

}  // namespace gostub::server
