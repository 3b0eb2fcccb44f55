#include <doctest/doctest.h>

#include "target/debug_registers.hpp"

using namespace gostub::target;

TEST_CASE("a watched range is split into aligned pieces as gdb's x86 code does") {
  using V = std::vector<AlignedRange>;
  CHECK(split_watch_range(0x1000, 8) == V{{0x1000, 8}});
  CHECK(split_watch_range(0x1000, 4) == V{{0x1000, 4}});
  CHECK(split_watch_range(0x1004, 8) == V{{0x1004, 4}, {0x1008, 4}});
  CHECK(split_watch_range(0x1001, 1) == V{{0x1001, 1}});
  CHECK(split_watch_range(0x1001, 4) == V{{0x1001, 1}, {0x1002, 2}, {0x1004, 1}});
  CHECK(split_watch_range(0x1003, 2) == V{{0x1003, 1}, {0x1004, 1}});
  CHECK(split_watch_range(0x1000, 3) == V{{0x1000, 2}, {0x1002, 1}});
  CHECK(split_watch_range(0x1002, 7) == V{{0x1002, 2}, {0x1004, 4}, {0x1008, 1}});
  CHECK(split_watch_range(0x1000, 16) == V{{0x1000, 8}, {0x1008, 8}});
  CHECK(split_watch_range(0x1006, 12) == V{{0x1006, 2}, {0x1008, 8}, {0x1010, 2}});
  CHECK(split_watch_range(0x1000, 0).empty());
}

TEST_CASE("DR7's RW/LEN field per kind and length") {
  // RW in the low two bits (00 execute, 01 write, 11 read/write), LEN above them
  // (00 one byte, 01 two, 11 four, 10 eight).
  CHECK(dr7_field(HardwareKind::kExecute, 1) == 0x0);
  CHECK(dr7_field(HardwareKind::kWrite, 1) == 0x1);
  CHECK(dr7_field(HardwareKind::kWrite, 2) == 0x5);
  CHECK(dr7_field(HardwareKind::kWrite, 4) == 0xd);
  CHECK(dr7_field(HardwareKind::kWrite, 8) == 0x9);
  CHECK(dr7_field(HardwareKind::kAccess, 8) == 0xb);
  CHECK(dr7_field(HardwareKind::kRead, 4) == 0xf);  // x86 cannot watch reads alone
}

TEST_CASE("slots: DR7 enable bits and fields, sharing, and all-or-nothing inserts") {
  DebugRegisterState state;
  CHECK(state.empty());
  CHECK(state.dr7() == 0);

  REQUIRE(state.insert(HardwareKind::kWrite, 0xc000010000, 8));
  CHECK(state.address(0) == 0xc000010000);
  // L0, LE, and slot 0's field (write, 8 bytes) at bit 16.
  CHECK(state.dr7() == (0x1 | 0x100 | (0x9ull << 16)));

  REQUIRE(state.insert(HardwareKind::kExecute, 0x4a03c0, 1));
  CHECK(state.address(1) == 0x4a03c0);
  CHECK(state.dr7() == (0x1 | 0x4 | 0x100 | (0x9ull << 16)));  // execute, 1 byte: field 0

  // The same piece again shares slot 0; removing it once keeps the slot.
  REQUIRE(state.insert(HardwareKind::kWrite, 0xc000010000, 8));
  REQUIRE(state.remove(HardwareKind::kWrite, 0xc000010000, 8));
  CHECK(state.in_use(0));
  // A different kind on the same address needs a slot of its own.
  REQUIRE(state.insert(HardwareKind::kAccess, 0xc000010000, 8));
  CHECK(state.address(2) == 0xc000010000);

  // Three pieces do not fit in the one free slot: nothing changes.
  const auto before = state.dr7();
  CHECK_FALSE(state.insert(HardwareKind::kWrite, 0x2001, 4));
  CHECK(state.dr7() == before);
  CHECK_FALSE(state.in_use(3));
  REQUIRE(state.insert(HardwareKind::kWrite, 0x2000, 4));
  CHECK_FALSE(state.insert(HardwareKind::kWrite, 0x3000, 1));  // a fifth

  CHECK_FALSE(state.remove(HardwareKind::kWrite, 0x5000, 1));  // never inserted
  REQUIRE(state.remove(HardwareKind::kWrite, 0xc000010000, 8));
  REQUIRE(state.remove(HardwareKind::kExecute, 0x4a03c0, 1));
  REQUIRE(state.remove(HardwareKind::kAccess, 0xc000010000, 8));
  REQUIRE(state.remove(HardwareKind::kWrite, 0x2000, 4));
  CHECK(state.empty());
  CHECK(state.dr7() == 0);
}

TEST_CASE("an unaligned watch takes several slots, and is removed whole") {
  DebugRegisterState state;
  REQUIRE(state.insert(HardwareKind::kWrite, 0x1006, 4));  // 0x1006 (2) and 0x1008 (2)
  CHECK(state.in_use(0));
  CHECK(state.in_use(1));
  CHECK_FALSE(state.in_use(2));
  CHECK(state.covers(HardwareKind::kWrite, 0x1009));
  CHECK_FALSE(state.covers(HardwareKind::kWrite, 0x100a));
  CHECK_FALSE(state.covers(HardwareKind::kAccess, 0x1006));
  REQUIRE(state.remove(HardwareKind::kWrite, 0x1006, 4));
  CHECK(state.empty());
}

TEST_CASE("DR6 names the slot that fired; a watchpoint wins over a breakpoint") {
  DebugRegisterState state;
  REQUIRE(state.insert(HardwareKind::kExecute, 0x401000, 1));  // slot 0
  REQUIRE(state.insert(HardwareKind::kWrite, 0x5000, 8));      // slot 1
  REQUIRE(state.insert(HardwareKind::kAccess, 0x6000, 4));     // slot 2
  CHECK_FALSE(state.hit(0).has_value());
  CHECK_FALSE(state.hit(0x4000).has_value());  // BS alone: a single-step
  CHECK_FALSE(state.hit(0x8).has_value());     // a slot not in use

  const auto execute = state.hit(0x1);
  REQUIRE(execute);
  CHECK(execute->kind == HardwareKind::kExecute);
  CHECK(execute->address == 0x401000);

  const auto write = state.hit(0x4002);  // a step that also wrote the watched word
  REQUIRE(write);
  CHECK(write->kind == HardwareKind::kWrite);
  CHECK(write->slot == 1);
  CHECK(write->address == 0x5000);

  const auto both = state.hit(0x7);
  REQUIRE(both);
  CHECK(both->kind == HardwareKind::kAccess);  // the last watchpoint slot, as gdb takes it
  CHECK(both->address == 0x6000);
}
