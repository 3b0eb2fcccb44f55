// The value printer against a fake memory: every kind, the limits, and memory that lies
// (cycles, corrupt lengths, a map that never ends).
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <map>

#include "symbols/value_printer.hpp"

using namespace gostub::symbols;

namespace {

class FakeMemory : public MemoryReader {
 public:
  bool read(std::uint64_t address, std::span<char> out) const override {
    ++reads;
    auto it = regions_.upper_bound(address);
    if (it == regions_.begin()) return false;
    --it;
    const auto offset = address - it->first;
    if (offset + out.size() > it->second.size()) return false;
    std::memcpy(out.data(), it->second.data() + offset, out.size());
    return true;
  }
  void put(std::uint64_t address, std::string bytes) { regions_[address] = std::move(bytes); }
  template <typename T>
  void poke(std::uint64_t address, T value) {
    auto it = std::prev(regions_.upper_bound(address));
    std::memcpy(it->second.data() + (address - it->first), &value, sizeof value);
  }
  void zero(std::uint64_t address, std::size_t size) { put(address, std::string(size, '\0')); }
  mutable std::size_t reads = 0;

 private:
  std::map<std::uint64_t, std::string> regions_;
};

template <typename... T>
std::string bytes_of(T... values) {
  std::string out;
  ((out.append(reinterpret_cast<const char*>(&values), sizeof values)), ...);
  return out;
}

struct Types {
  TypeArena arena;
  GoType& make(GoKind kind, std::string name, std::uint64_t size, const GoType* elem = nullptr) {
    auto& type = arena.make();
    type.kind = kind, type.name = std::move(name), type.size = size, type.elem = elem;
    return type;
  }
};

struct Fixture {
  FakeMemory memory;
  Types types;
  const GoType& int_type = types.make(GoKind::kInt, "int", 8);
  const GoType& string_type = types.make(GoKind::kString, "string", 16);
  std::map<std::uint64_t, const GoType*> dynamic;
  PrintContext context{memory,
                       [this](std::uint64_t address) -> const GoType* {
                         auto it = dynamic.find(address);
                         return it == dynamic.end() ? nullptr : it->second;
                       },
                       [](std::uint64_t pc) { return pc == 0x401000 ? "main.f" : ""; }, 152, 19};
  PrintLimits limits;

  std::string print(const GoType& type, std::string bytes) {
    ValuePrinter printer(context, limits);
    return printer.print(GoValue{&type, std::move(bytes), 0});
  }
  std::string print_at(const GoType& type, std::uint64_t address) {
    ValuePrinter printer(context, limits);
    auto value = printer.load(type, address);
    return value ? printer.print(*value) : "unreadable";
  }
  const GoType& map_of(const GoType& key, const GoType& elem, std::string name) {
    auto& map = types.make(GoKind::kMap, std::move(name), 8, &elem);
    map.key = &key;
    return map;
  }
};

// A map[int]int bucket: tophash[8], keys[8], elems[8], overflow.
constexpr std::uint64_t kBucket = 8 + 64 + 64 + 8;
void put_bucket(FakeMemory& memory, std::uint64_t at,
                std::vector<std::pair<std::int64_t, std::int64_t>> entries,
                std::uint64_t overflow = 0, std::uint8_t empty_mark = 0) {
  std::string bucket(kBucket, '\0');
  for (std::size_t i = 0; i < 8; ++i) bucket[i] = static_cast<char>(empty_mark);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    bucket[i] = 5 + static_cast<char>(i);
    std::memcpy(bucket.data() + 8 + 8 * i, &entries[i].first, 8);
    std::memcpy(bucket.data() + 72 + 8 * i, &entries[i].second, 8);
  }
  std::memcpy(bucket.data() + 136, &overflow, 8);
  memory.put(at, bucket);
}

// runtime.hmap: count, flags, B, noverflow, hash0, buckets, oldbuckets, nevacuate, extra.
void put_hmap(FakeMemory& memory, std::uint64_t at, std::int64_t count, std::uint8_t b,
              std::uint64_t buckets, std::uint64_t oldbuckets = 0, std::uint8_t flags = 0) {
  std::string header(48, '\0');
  std::memcpy(header.data(), &count, 8);
  header[8] = static_cast<char>(flags);
  header[9] = static_cast<char>(b);
  std::memcpy(header.data() + 16, &buckets, 8);
  std::memcpy(header.data() + 24, &oldbuckets, 8);
  memory.put(at, header);
}

}  // namespace

TEST_CASE("floats and strings are written as Go writes them") {
  CHECK(go_float(3.25, 64) == "3.25");
  CHECK(go_float(1e6, 64) == "1e+06");
  CHECK(go_float(123456, 64) == "123456");
  CHECK(go_float(1234567, 64) == "1.234567e+06");
  CHECK(go_float(0.0001, 64) == "0.0001");
  CHECK(go_float(0.00001, 64) == "1e-05");
  CHECK(go_float(1.1f, 32) == "1.1");
  CHECK(go_float(-0.5, 64) == "-0.5");
  CHECK(go_quote("a\"b\\\n\x01é") == "\"a\\\"b\\\\\\n\\x01é\"");
  CHECK(go_quote("\xff") == "\"\\xff\"");
}

TEST_CASE("scalars, strings and slices, with their limits") {
  Fixture f;
  CHECK(f.print(f.int_type, bytes_of(std::int64_t{-42})) == "-42");
  const auto& i8 = f.types.make(GoKind::kInt8, "int8", 1);
  CHECK(f.print(i8, bytes_of(std::int8_t{-8})) == "-8");
  const auto& c128 = f.types.make(GoKind::kComplex128, "complex128", 16);
  CHECK(f.print(c128, bytes_of(1.5, -2.0)) == "(1.5 + -2i)");
  f.memory.put(0x1000, std::string(100, 'x'));
  CHECK(f.print(f.string_type, bytes_of(std::uint64_t{0x1000}, std::int64_t{3})) == "\"xxx\"");
  CHECK(f.print(f.string_type, bytes_of(std::uint64_t{0x1000}, std::int64_t{100})) ==
        "\"" + std::string(64, 'x') + "...+36 more\"");
  CHECK(f.print(f.string_type, bytes_of(std::uint64_t{0x1000}, std::int64_t{-1})) ==
        "(bad string length -1)");
  // A corrupt length reads no more than the limit.
  CHECK(f.print(f.string_type, bytes_of(std::uint64_t{0x1000}, std::int64_t{1} << 60))
            .ends_with("...+1152921504606846912 more\""));
  const auto& ints = f.types.make(GoKind::kSlice, "[]int", 24, &f.int_type);
  std::string elements;
  for (std::int64_t i = 0; i < 100; ++i) elements += bytes_of(i);
  f.memory.put(0x2000, elements);
  CHECK(f.print(ints, bytes_of(std::uint64_t{0x2000}, std::int64_t{3}, std::int64_t{5})) ==
        "[]int len: 3, cap: 5, [0,1,2]");
  CHECK(f.print(ints, bytes_of(std::uint64_t{0}, std::int64_t{0}, std::int64_t{0})) ==
        "[]int len: 0, cap: 0, nil");
  CHECK(f.print(ints, bytes_of(std::uint64_t{0x2000}, std::int64_t{9}, std::int64_t{3})) ==
        "[]int len: 9, cap: 3, (bad slice: len 9, cap 3)");
  f.limits.elements = 2;
  CHECK(f.print(ints, bytes_of(std::uint64_t{0x2000}, std::int64_t{100}, std::int64_t{100})) ==
        "[]int len: 100, cap: 100, [0,1,...+98 more]");
  // Ten million elements claimed: 64 read.
  f.limits.elements = 64;
  CHECK(f.print(ints,
                bytes_of(std::uint64_t{0x2000}, std::int64_t{10'000'000}, std::int64_t{10'000'000}))
            .ends_with(",63,...+9999936 more]"));
  // Memory that ends first: an error, not a stall.
  CHECK(f.print(ints, bytes_of(std::uint64_t{0x2200}, std::int64_t{100}, std::int64_t{100})) ==
        "[]int len: 100, cap: 100, (unreadable elements at 0x2200)");
}

TEST_CASE("structs, pointers and cycles are bounded by the depth") {
  Fixture f;
  auto& node = f.types.make(GoKind::kStruct, "main.Node", 16);
  const auto& pointer = f.types.make(GoKind::kPointer, "*main.Node", 8, &node);
  node.fields = {{"Value", &f.int_type, 0}, {"Next", &pointer, 8}};
  // A two-node cycle.
  f.memory.put(0x3000, bytes_of(std::int64_t{1}, std::uint64_t{0x3100}));
  f.memory.put(0x3100, bytes_of(std::int64_t{2}, std::uint64_t{0x3000}));
  CHECK(f.print(pointer, bytes_of(std::uint64_t{0x3000})) ==
        "*main.Node {Value: 1, Next: *main.Node {Value: 2, Next: *(*main.Node)(0x3000)}}");
  CHECK(f.print(pointer, bytes_of(std::uint64_t{0})) == "*main.Node nil");
  CHECK(f.print(pointer, bytes_of(std::uint64_t{0x9000})) == "(*main.Node)(0x9000) (unreadable)");
  f.limits.depth = 3;
  CHECK(f.print_at(node, 0x3000) ==
        "main.Node {Value: 1, Next: *main.Node {Value: 2, Next: *main.Node {Value: 1, Next: "
        "*main.Node {Value: 2, Next: *(*main.Node)(0x3000)}}}}");
  // `type P *P` pointing at itself: pointers add no level, the nesting bound stops it.
  auto& self = f.types.make(GoKind::kPointer, "main.P", 8);
  self.elem = &self;
  f.memory.put(0x3200, bytes_of(std::uint64_t{0x3200}));
  CHECK(f.print_at(self, 0x3200) == std::string(65, '*') + "...");
  // Every element of a big nested value asked for: the output stops at its bound.
  auto& row = f.types.make(GoKind::kArray, "[100]main.Node", 1600, &node);
  row.length = 100;
  std::string nodes;
  for (int i = 0; i < 100; ++i) nodes += bytes_of(std::int64_t{i}, std::uint64_t{0x3000});
  f.memory.put(0x4000, nodes);
  f.limits.output = 1000;
  const auto text = f.print_at(row, 0x4000);
  CHECK(text.size() < 1400);
  CHECK(text.find("...") != std::string::npos);
  f.limits.output = 4 << 20;
  ValuePrinter printer(f.context, f.limits);
  std::string error;
  const auto value = printer.load(node, 0x3000);
  REQUIRE(value);
  const auto next = printer.field(*value, "Next", error);
  REQUIRE(next);
  const auto value2 = printer.field(*next, "Value", error);  // through the pointer
  REQUIRE(value2);
  CHECK(printer.print(*value2) == "2");
  CHECK_FALSE(printer.field(*value, "Nope", error));
  CHECK(error == "main.Node has no field Nope");
}

TEST_CASE("maps: buckets, overflow buckets, a growing map, and bad maps") {
  Fixture f;
  const auto& map = f.map_of(f.int_type, f.int_type, "map[int]int");
  // Two buckets (B=1); the first has an overflow bucket.
  f.memory.zero(0x10000, 2 * kBucket);
  put_bucket(f.memory, 0x10000, {{1, 10}, {2, 20}}, 0x20000);
  put_bucket(f.memory, 0x10000 + kBucket, {{3, 30}});
  put_bucket(f.memory, 0x20000, {{4, 40}});
  put_hmap(f.memory, 0x5000, 4, 1, 0x10000);
  CHECK(f.print(map, bytes_of(std::uint64_t{0x5000})) ==
        "map[int]int [1: 10, 2: 20, 4: 40, 3: 30]");
  CHECK(f.print(map, bytes_of(std::uint64_t{0})) == "map[int]int nil");
  ValuePrinter printer(f.context, f.limits);
  std::string error;
  const auto found = printer.lookup(GoValue{&map, bytes_of(std::uint64_t{0x5000}), 0}, "4", error);
  REQUIRE(found);
  CHECK(printer.print(*found) == "40");
  CHECK_FALSE(printer.lookup(GoValue{&map, bytes_of(std::uint64_t{0x5000}), 0}, "9", error));
  CHECK(error == "key 9 not found");

  // Growing from one bucket to two: old bucket 0 not evacuated yet holds every entry; the new
  // buckets are still empty. Then evacuated (tophash 2 = evacuatedX): the new ones count.
  f.memory.zero(0x30000, 2 * kBucket);
  put_bucket(f.memory, 0x40000, {{7, 70}, {8, 80}});
  put_hmap(f.memory, 0x6000, 2, 1, 0x30000, 0x40000);
  CHECK(f.print(map, bytes_of(std::uint64_t{0x6000})) == "map[int]int [7: 70, 8: 80]");
  put_bucket(f.memory, 0x40000, {}, 0, 2);
  put_bucket(f.memory, 0x30000 + kBucket, {{7, 70}, {8, 80}});
  CHECK(f.print(map, bytes_of(std::uint64_t{0x6000})) == "map[int]int [7: 70, 8: 80]");

  // A corrupt B, an overflow chain that loops, a count of ten million: bounded.
  put_hmap(f.memory, 0x7000, 5, 200, 0x10000);
  CHECK(f.print(map, bytes_of(std::uint64_t{0x7000})) ==
        "map[int]int [(corrupt map: B = 200), ...+5 more]");
  put_bucket(f.memory, 0x50000, {}, 0x50000);
  put_hmap(f.memory, 0x8000, 10'000'000, 0, 0x50000);
  f.limits.buckets = 1000;
  const auto start = std::chrono::steady_clock::now();
  CHECK(f.print(map, bytes_of(std::uint64_t{0x8000})) ==
        "map[int]int [(stopped after reading 1000 buckets), ...+10000000 more]");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  CHECK(f.print(map, bytes_of(std::uint64_t{0x9999})) == "map[int]int (unreadable map at 0x9999)");
  f.context.go_minor = 24;
  CHECK(f.print(map, bytes_of(std::uint64_t{0x5000})) ==
        "map[int]int (a Go 1.24 swiss-table map at 0x5000: not read yet)");
}

TEST_CASE("interfaces, channels, functions and time.Time") {
  Fixture f;
  auto& eface = f.types.make(GoKind::kInterface, "interface {}", 16);
  eface.empty_interface = true;
  const auto& error_type = f.types.make(GoKind::kInterface, "error", 16);
  auto& wrapped = f.types.make(GoKind::kStruct, "errors.errorString", 16);
  wrapped.fields = {{"s", &f.string_type, 0}};
  const auto& wrapped_pointer = f.types.make(GoKind::kPointer, "*errors.errorString", 8, &wrapped);
  f.dynamic[0xa000] = &f.int_type;
  f.dynamic[0xa100] = &wrapped_pointer;
  f.memory.put(0xb000, bytes_of(std::int64_t{17}));
  CHECK(f.print(eface, bytes_of(std::uint64_t{0xa000}, std::uint64_t{0xb000})) ==
        "interface {}(int) 17");
  CHECK(f.print(eface, bytes_of(std::uint64_t{0}, std::uint64_t{0})) == "interface {} nil");
  // An iface: its itab's _type (at +8) names the dynamic type; a pointer is the data word.
  f.memory.put(0xc000, bytes_of(std::uint64_t{0}, std::uint64_t{0xa100}));
  f.memory.put(0xd000, "boom");
  f.memory.put(0xd100, bytes_of(std::uint64_t{0xd000}, std::int64_t{4}));
  CHECK(f.print(error_type, bytes_of(std::uint64_t{0xc000}, std::uint64_t{0xd100})) ==
        "error(*errors.errorString) *{s: \"boom\"}");
  CHECK(f.print(eface, bytes_of(std::uint64_t{0xeeee}, std::uint64_t{1})) == "interface {}(?) 0x1");

  // A buffered channel (Go 1.19 hchan) holding 7 and 8 from recvx 3 around a ring of 4, and a
  // goroutine (id 42) waiting to send.
  const auto& chan = f.types.make(GoKind::kChan, "chan int", 8, &f.int_type);
  std::string hchan(96, '\0');
  const auto put = [&](std::size_t at, std::uint64_t v) { std::memcpy(hchan.data() + at, &v, 8); };
  put(0, 2), put(8, 4), put(16, 0xe000), put(48, 3), put(72, 0xe100), put(80, 0xe100);
  f.memory.put(0xe200, hchan);
  f.memory.put(0xe000,
               bytes_of(std::int64_t{8}, std::int64_t{0}, std::int64_t{0}, std::int64_t{7}));
  f.memory.put(0xe100, bytes_of(std::uint64_t{0xe400}, std::uint64_t{0}));  // sudog: g, next
  std::string g(160, '\0');
  const std::int64_t id = 42;
  std::memcpy(g.data() + 152, &id, 8);
  f.memory.put(0xe400, g);
  CHECK(f.print(chan, bytes_of(std::uint64_t{0xe200})) ==
        "chan int {len: 2, cap: 4, [7,8], waiting to send: goroutines [42]}");
  CHECK(f.print(chan, bytes_of(std::uint64_t{0})) == "chan int nil");

  const auto& func = f.types.make(GoKind::kFunc, "func()", 8);
  f.memory.put(0xf000, bytes_of(std::uint64_t{0x401000}));
  CHECK(f.print(func, bytes_of(std::uint64_t{0xf000})) == "main.f");
  CHECK(f.print(func, bytes_of(std::uint64_t{0})) == "nil");

  auto& time = f.types.make(GoKind::kStruct, "time.Time", 24);
  // time.Date(2024, 3, 15, 10, 30, 0, 123, time.UTC): no monotonic reading, ext = seconds
  // since year 1.
  CHECK(f.print(time, bytes_of(std::uint64_t{123}, std::int64_t{63846095400}, std::uint64_t{0})) ==
        "time.Time(2024-03-15T10:30:00.000000123Z)");
}
