// Memory and software breakpoints. Reads go through process_vm_readv (one syscall for any
// length) with /proc/PID/mem for what it cannot do; writes through process_vm_writev, with
// /proc/PID/mem for read-only text (it writes through page protection, as ptrace does).
#include <fmt/format.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "target/process.hpp"
#include "x86.hpp"

namespace gostub::target {

Result<std::size_t> Process::read_memory_into(std::uint64_t address, std::span<char> out) const {
  if (!alive_) return fail(ESRCH, "the process is not running");
  if (out.empty()) return 0;
  iovec local{out.data(), out.size()};
  iovec remote{reinterpret_cast<void*>(address), out.size()};
  ssize_t got = ::process_vm_readv(pid_, &local, 1, &remote, 1, 0);
  std::size_t done = got > 0 ? static_cast<std::size_t>(got) : 0;
  if (done < out.size() && memory_fd_ >= 0) {
    // process_vm_readv stops at the first unreadable page; /proc/PID/mem reads up to the fault
    // and can read pages the program mapped without read permission.
    const ssize_t more = ::pread(memory_fd_, out.data() + done, out.size() - done,
                                 static_cast<off_t>(address + done));
    if (more > 0) done += static_cast<std::size_t>(more);
  }
  if (done == 0) return fail(EIO, fmt::format("cannot read memory at {:#x}", address));
  // Our breakpoints are invisible: show the bytes they replaced.
  for (auto it = breakpoints_.lower_bound(address);
       it != breakpoints_.end() && it->first < address + done; ++it) {
    out[it->first - address] = static_cast<char>(it->second.original);
  }
  return done;
}

void Process::read_memory_many(std::span<const MemoryRange> ranges, std::span<bool> ok) const {
  constexpr std::size_t kBatch = IOV_MAX;
  std::vector<iovec> local, remote;
  for (std::size_t first = 0; first < ranges.size(); first += kBatch) {
    const auto count = std::min(kBatch, ranges.size() - first);
    local.clear();
    remote.clear();
    std::size_t total = 0;
    for (std::size_t i = first; i < first + count; ++i) {
      local.push_back({ranges[i].out.data(), ranges[i].out.size()});
      remote.push_back({reinterpret_cast<void*>(ranges[i].address), ranges[i].out.size()});
      total += ranges[i].out.size();
    }
    const ssize_t got =
        alive_ ? ::process_vm_readv(pid_, local.data(), count, remote.data(), count, 0) : -1;
    // The kernel stops at the first range it cannot read: those before it are complete.
    std::size_t done = got > 0 ? static_cast<std::size_t>(got) : 0;
    for (std::size_t i = first; i < first + count; ++i) {
      const auto size = ranges[i].out.size();
      if (done >= size && total != 0) {
        done -= size;
        ok[i] = true;
        for (auto it = breakpoints_.lower_bound(ranges[i].address);
             it != breakpoints_.end() && it->first < ranges[i].address + size; ++it) {
          ranges[i].out[it->first - ranges[i].address] = static_cast<char>(it->second.original);
        }
      } else {
        done = 0;
        const auto one = read_memory_into(ranges[i].address, ranges[i].out);
        ok[i] = one && *one == size;
      }
    }
  }
}

Result<std::string> Process::read_memory(std::uint64_t address, std::size_t length) const {
  std::string bytes(length, '\0');
  auto got = read_memory_into(address, bytes);
  if (!got) return std::unexpected(got.error());
  bytes.resize(*got);
  return bytes;
}

Result<void> Process::poke_bytes(std::uint64_t address, std::string_view bytes) {
  if (!alive_) return fail(ESRCH, "the process is not running");
  std::size_t done = 0;
  // process_vm_writev cannot write read-only text, where breakpoints go: small writes use
  // /proc/PID/mem straight away, large ones try the one-syscall path first.
  constexpr std::size_t kSmallWrite = 64;
  if (bytes.size() > kSmallWrite || memory_fd_ < 0) {
    iovec local{const_cast<char*>(bytes.data()), bytes.size()};
    iovec remote{reinterpret_cast<void*>(address), bytes.size()};
    const ssize_t put = ::process_vm_writev(pid_, &local, 1, &remote, 1, 0);
    done = put > 0 ? static_cast<std::size_t>(put) : 0;
  }
  while (done < bytes.size() && memory_fd_ >= 0) {
    const ssize_t more = ::pwrite(memory_fd_, bytes.data() + done, bytes.size() - done,
                                  static_cast<off_t>(address + done));
    if (more <= 0) break;
    done += static_cast<std::size_t>(more);
  }
  if (done < bytes.size()) {
    return fail(EIO, fmt::format("cannot write memory at {:#x}", address + done));
  }
  return {};
}

Result<void> Process::write_memory(std::uint64_t address, std::string_view bytes) {
  if (bytes.empty()) return {};
  // A write over one of our breakpoints changes the byte it will restore; the int3 stays.
  std::string data(bytes);
  for (auto it = breakpoints_.lower_bound(address);
       it != breakpoints_.end() && it->first < address + data.size(); ++it) {
    it->second.original = static_cast<std::uint8_t>(data[it->first - address]);
    data[it->first - address] = static_cast<char>(kInt3);
  }
  return poke_bytes(address, data);
}

bool Process::has_breakpoint(std::uint64_t address, BreakpointOwner owner) const {
  const auto found = breakpoints_.find(address);
  return found != breakpoints_.end() && (found->second.owners & static_cast<std::uint8_t>(owner));
}

std::optional<std::uint8_t> Process::read_raw_byte(std::uint64_t address) const {
  char byte = 0;
  iovec local{&byte, 1};
  iovec remote{reinterpret_cast<void*>(address), 1};
  if (::process_vm_readv(pid_, &local, 1, &remote, 1, 0) == 1) return byte;
  if (memory_fd_ >= 0 && ::pread(memory_fd_, &byte, 1, static_cast<off_t>(address)) == 1) {
    return byte;
  }
  return std::nullopt;
}

Result<void> Process::insert_breakpoint(std::uint64_t address, BreakpointOwner owner) {
  if (auto found = breakpoints_.find(address); found != breakpoints_.end()) {
    // A library unloaded and another mapped at its address (dlclose, dlopen) took our int3
    // with it: gdb sends no z0 for an unloaded library. The breakpoint is set anew in the
    // new code, as gdbserver's validate_breakpoints does.
    const auto in_memory = read_raw_byte(address);
    if (!in_memory) {
      breakpoints_.erase(found);
      return fail(EIO, fmt::format("cannot read memory at {:#x}", address));
    }
    if (*in_memory != kInt3) {
      if (auto put = poke_bytes(address, std::string(1, static_cast<char>(kInt3))); !put) {
        breakpoints_.erase(found);
        return std::unexpected(put.error());
      }
      found->second.original = *in_memory;
    }
    found->second.owners |= static_cast<std::uint8_t>(owner);
    return {};
  }
  char original = 0;
  auto got = read_memory_into(address, std::span<char>(&original, 1));
  if (!got) return std::unexpected(got.error());
  if (auto put = poke_bytes(address, std::string(1, static_cast<char>(kInt3))); !put) {
    return std::unexpected(put.error());
  }
  breakpoints_.emplace(
      address, Breakpoint{static_cast<std::uint8_t>(original), static_cast<std::uint8_t>(owner)});
  return {};
}

Result<void> Process::remove_breakpoint(std::uint64_t address, BreakpointOwner owner) {
  const auto found = breakpoints_.find(address);
  if (found == breakpoints_.end()) return {};
  found->second.owners &= static_cast<std::uint8_t>(~static_cast<std::uint8_t>(owner));
  if (found->second.owners != 0) return {};
  if (read_raw_byte(address) != kInt3) {
    // Its code is gone (an unloaded library): the original byte belongs to nothing now.
    breakpoints_.erase(found);
    return {};
  }
  if (auto put = poke_bytes(address, std::string(1, static_cast<char>(found->second.original)));
      !put) {
    found->second.owners |= static_cast<std::uint8_t>(owner);
    return std::unexpected(put.error());
  }
  breakpoints_.erase(found);
  return {};
}

}  // namespace gostub::target
