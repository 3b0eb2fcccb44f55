// Where the Go runtime keeps what gostub reads, on linux/amd64: offsets into runtime.g,
// runtime.gobuf and runtime.m for each Go version, read from each toolchain's DWARF (the
// tests check them against it), so that stripped binaries are read the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace gostub::symbols {

// Offsets into runtime.g, runtime.gobuf and runtime.m on linux/amd64.
struct RuntimeLayout {
  std::uint64_t g_stack_lo = 0, g_stack_hi = 8, g_m = 48, g_sched = 56;
  std::uint64_t g_syscallsp = 112, g_syscallpc = 120;
  std::uint64_t g_status, g_goid, g_waitsince, g_waitreason, g_gopc, g_startpc, g_labels;
  std::uint64_t gobuf_sp = 0, gobuf_pc = 8, gobuf_bp = 48;
  std::uint64_t m_g0 = 0, m_procid = 72, m_curg = 192;
  // Go 1.19 and 1.20 share a layout; 1.21 and 1.22; 1.23 moved atomicstatus and goid.
  static RuntimeLayout for_go_minor(std::optional<int> minor);
  std::uint64_t g_prefix() const { return g_labels + 8; }  // every field above lies before it
};

// The Go releases (minor versions of Go 1) whose layouts for_go_minor knows, oldest first:
// what `gostub --version` lists. Other releases get the nearest known layout.
std::span<const int> known_go_minors();

}  // namespace gostub::symbols
