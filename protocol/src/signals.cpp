#include "protocol/signals.hpp"

#include <array>
#include <utility>

namespace gostub::protocol {

namespace {

constexpr int kGdbSignalUnknown = 143;

// (Linux x86-64 number, gdb number). Realtime signals are handled apart.
constexpr std::array<std::pair<int, int>, 31> kFixed = {{
    {1, 1},    // HUP
    {2, 2},    // INT
    {3, 3},    // QUIT
    {4, 4},    // ILL
    {5, 5},    // TRAP
    {6, 6},    // ABRT
    {7, 10},   // BUS
    {8, 8},    // FPE
    {9, 9},    // KILL
    {10, 30},  // USR1
    {11, 11},  // SEGV
    {12, 31},  // USR2
    {13, 13},  // PIPE
    {14, 14},  // ALRM
    {15, 15},  // TERM
    {16, 0},   // STKFLT: no gdb equivalent, placeholder skipped below
    {17, 20},  // CHLD
    {18, 19},  // CONT
    {19, 17},  // STOP
    {20, 18},  // TSTP
    {21, 21},  // TTIN
    {22, 22},  // TTOU
    {23, 16},  // URG
    {24, 24},  // XCPU
    {25, 25},  // XFSZ
    {26, 26},  // VTALRM
    {27, 27},  // PROF
    {28, 28},  // WINCH
    {29, 23},  // IO (POLL)
    {30, 32},  // PWR
    {31, 12},  // SYS
}};

constexpr int kLinuxRealtimeFirst = 32;
constexpr int kLinuxRealtimeLast = 64;
constexpr int kGdbRealtime32 = 77;
constexpr int kGdbRealtime33 = 45;  // 33..63 are contiguous from here
constexpr int kGdbRealtime64 = 78;

}  // namespace

int gdb_signal_from_linux(int linux_signal) {
  if (linux_signal == 0) return 0;
  for (const auto& [host, gdb] : kFixed) {
    if (host == linux_signal) return gdb == 0 ? kGdbSignalUnknown : gdb;
  }
  if (linux_signal == kLinuxRealtimeFirst) return kGdbRealtime32;
  if (linux_signal > kLinuxRealtimeFirst && linux_signal < kLinuxRealtimeLast) {
    return kGdbRealtime33 + (linux_signal - 33);
  }
  if (linux_signal == kLinuxRealtimeLast) return kGdbRealtime64;
  return kGdbSignalUnknown;
}

int linux_signal_from_gdb(int gdb_signal) {
  if (gdb_signal == 0) return 0;
  for (const auto& [host, gdb] : kFixed) {
    if (gdb == gdb_signal) return host;
  }
  if (gdb_signal == kGdbRealtime32) return kLinuxRealtimeFirst;
  if (gdb_signal >= kGdbRealtime33 && gdb_signal < kGdbRealtime33 + 31) {
    return 33 + (gdb_signal - kGdbRealtime33);
  }
  if (gdb_signal == kGdbRealtime64) return kLinuxRealtimeLast;
  return 0;
}

}  // namespace gostub::protocol
