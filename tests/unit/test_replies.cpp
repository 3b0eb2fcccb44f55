#include <doctest/doctest.h>

#include "protocol/framing.hpp"
#include "protocol/replies.hpp"
#include "protocol/signals.hpp"

using namespace gostub::protocol;

TEST_CASE("stop replies carry signal, registers, thread, core and swbreak") {
  StopReply stop;
  stop.signal = 5;
  stop.pid = 0x10;
  stop.tid = 0x11;
  stop.core = 1;
  stop.software_breakpoint = true;
  stop.expedited = {{16, std::string("\xc0\x03\x4a\x00\x00\x00\x00\x00", 8)}};
  CHECK(encode_stop_reply(stop, true) == "T0510:c0034a0000000000;thread:p10.11;core:1;swbreak:;");
  // Registers below 0x10 have two digits too: lldb reads only two-digit register keys.
  stop.expedited.emplace_back(7, std::string(8, '\0'));
  CHECK(encode_stop_reply(stop, true) ==
        "T0510:c0034a0000000000;07:0000000000000000;thread:p10.11;core:1;swbreak:;");
  stop.software_breakpoint = false;
  stop.expedited.clear();
  stop.core = -1;
  CHECK(encode_stop_reply(stop, false) == "T05thread:11;");
}

TEST_CASE("stop replies for watchpoints and hardware breakpoints") {
  StopReply stop;
  stop.signal = 5;
  stop.tid = 0x11;
  stop.watch = StopReply::Watch::kWrite;
  stop.watch_address = 0xc000012340;
  CHECK(encode_stop_reply(stop, false) == "T05thread:11;watch:c000012340;");
  stop.watch = StopReply::Watch::kRead;
  CHECK(encode_stop_reply(stop, false) == "T05thread:11;rwatch:c000012340;");
  stop.watch = StopReply::Watch::kAccess;
  CHECK(encode_stop_reply(stop, false) == "T05thread:11;awatch:c000012340;");
  stop.watch = StopReply::Watch::kNone;
  stop.hardware_breakpoint = true;
  CHECK(encode_stop_reply(stop, false) == "T05thread:11;hwbreak:;");
}

TEST_CASE("lldb's watchpoint description: address, slot and hit address in decimal, hex-encoded") {
  // "4096 1 4100"
  CHECK(lldb_watchpoint_description(0x1000, 1, 0x1004) == "3430393620312034313030");
  // "4096 0"
  CHECK(lldb_watchpoint_description(0x1000, 0, std::nullopt) == "343039362030");  // "4096 0"
}

TEST_CASE("exit and termination replies") {
  StopReply exited;
  exited.kind = StopReply::Kind::kExited;
  exited.exit_code = 3;
  exited.pid = 0x1f;
  CHECK(encode_stop_reply(exited, true) == "W03;process:1f");
  CHECK(encode_stop_reply(exited, false) == "W03");
  StopReply killed;
  killed.kind = StopReply::Kind::kTerminated;
  killed.signal = 9;
  killed.pid = 0x1f;
  CHECK(encode_stop_reply(killed, true) == "X09;process:1f");
}

TEST_CASE("qXfer chunks say whether more follows, and are escaped") {
  CHECK(transfer_chunk("abcdef", 0, 4) == "mabcd");
  CHECK(transfer_chunk("abcdef", 4, 4) == "lef");
  CHECK(transfer_chunk("abcdef", 6, 4) == "l");
  CHECK(transfer_chunk("abcdef", 100, 4) == "l");
  CHECK(transfer_chunk("a#b", 0, 10) ==
        "la}\x03"
        "b");
}

TEST_CASE("errors, console output and host I/O replies") {
  CHECK(error_reply(22) == "E16");
  CHECK(console_output("hi\n") == "O68690a");
  CHECK(host_io_result(11) == "Fb");
  CHECK(host_io_result(3, "a$c") ==
        "F3;a}\x04"
        "c");
  CHECK(host_io_error(2) == "F-1,2");
  CHECK(host_io_error(36) == "F-1,5b");  // ENAMETOOLONG is 91 in gdb's numbering
  CHECK(host_io_error(1000) == "F-1,270f");
  FileStatus status{};
  status.size = 0x0102030405060708;
  status.mode = 0100644;
  const auto encoded = encode_file_status(status);
  REQUIRE(encoded.size() == 64);
  CHECK(encoded.substr(28, 8) == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  CHECK(encoded.substr(8, 4) == std::string("\x00\x00\x81\xa4", 4));
}

TEST_CASE("signal numbers follow gdb's signals.def, both ways") {
  // Where Linux and gdb disagree.
  CHECK(gdb_signal_from_linux(10) == 30);  // SIGUSR1
  CHECK(gdb_signal_from_linux(12) == 31);  // SIGUSR2
  CHECK(gdb_signal_from_linux(23) == 16);  // SIGURG
  CHECK(gdb_signal_from_linux(17) == 20);  // SIGCHLD
  CHECK(gdb_signal_from_linux(19) == 17);  // SIGSTOP
  CHECK(gdb_signal_from_linux(7) == 10);   // SIGBUS
  CHECK(gdb_signal_from_linux(27) == 27);  // SIGPROF
  CHECK(gdb_signal_from_linux(34) == 46);  // SIGRTMIN+2 = realtime 34
  CHECK(gdb_signal_from_linux(32) == 77);
  CHECK(gdb_signal_from_linux(64) == 78);
  CHECK(gdb_signal_from_linux(16) == 143);  // SIGSTKFLT has no gdb name
  for (int host = 1; host <= 64; ++host) {
    if (host == 16) continue;
    CHECK_MESSAGE(linux_signal_from_gdb(gdb_signal_from_linux(host)) == host, host);
  }
  CHECK(linux_signal_from_gdb(0) == 0);
  CHECK(linux_signal_from_gdb(143) == 0);
}

TEST_CASE("thread exit and no-resumed stop replies") {
  StopReply exited;
  exited.kind = StopReply::Kind::kThreadExited;
  exited.pid = 0x64;
  exited.tid = 0x65;
  exited.exit_code = 0;
  CHECK(encode_stop_reply(exited, true) == "w0;p64.65");
  CHECK(encode_stop_reply(exited, false) == "w0;65");
  StopReply none;
  none.kind = StopReply::Kind::kNoResumed;
  CHECK(encode_stop_reply(none, true) == "N");
}
