#include <doctest/doctest.h>

#include <random>

#include "protocol/framing.hpp"
#include "protocol/hex.hpp"

using namespace gostub::protocol;

namespace {
std::vector<InputEvent> decode(std::string_view bytes) {
  Decoder decoder;
  std::vector<InputEvent> events;
  decoder.feed(bytes, events);
  return events;
}
std::string payload_of(const InputEvent& event) {
  return std::get<PacketReceived>(event).payload;
}
}  // namespace

TEST_CASE("checksum and frame follow the spec's example") {
  CHECK(checksum("") == 0);
  CHECK(frame("OK") == "$OK#9a");
  CHECK(frame("") == "$#00");
  CHECK(frame("qSupported") == "$qSupported#37");
}

TEST_CASE("decoder yields packets, acks, naks and the interrupt byte") {
  const auto events = decode("+$OK#9a-\x03$g#67");
  REQUIRE(events.size() == 5);
  CHECK(std::holds_alternative<AckReceived>(events[0]));
  CHECK(payload_of(events[1]) == "OK");
  CHECK(std::holds_alternative<NackReceived>(events[2]));
  CHECK(std::holds_alternative<InterruptReceived>(events[3]));
  CHECK(payload_of(events[4]) == "g");
}

TEST_CASE("decoder keeps partial frames across reads, byte by byte") {
  Decoder decoder;
  std::vector<InputEvent> events;
  for (char c : frame("m4a03c0,4")) decoder.feed(std::string_view(&c, 1), events);
  REQUIRE(events.size() == 1);
  CHECK(payload_of(events[0]) == "m4a03c0,4");
}

TEST_CASE("bad checksums and overlong packets are reported, and decoding goes on") {
  auto events = decode("$OK#00$OK#9a");
  REQUIRE(events.size() == 2);
  CHECK(std::holds_alternative<BadPacketReceived>(events[0]));
  CHECK(payload_of(events[1]) == "OK");

  events = decode("$OK#zz");
  REQUIRE(events.size() == 1);
  CHECK(std::holds_alternative<BadPacketReceived>(events[0]));

  Decoder small(4);
  std::vector<InputEvent> out;
  small.feed(frame("0123456789") + frame("OK"), out);
  REQUIRE(out.size() == 2);
  CHECK(std::get<BadPacketReceived>(out[0]).reason.find("longer") != std::string::npos);
  CHECK(payload_of(out[1]) == "OK");
}

TEST_CASE("a '$' inside a frame restarts it, like gdb does") {
  const auto events = decode("$garbage$OK#9a");
  REQUIRE(events.size() == 1);
  CHECK(payload_of(events[0]) == "OK");
}

TEST_CASE("run-length encoding expands, and malformed runs are rejected") {
  // "0* " is '0' plus (' ' - 29) = 3 more copies.
  CHECK(expand_run_length("0* ") == "0000");
  CHECK(expand_run_length("ab*\"c") == "abbbbbbc");      // 34 - 29 = 5 more
  CHECK(expand_run_length("}*x") == "}*x");              // an escaped '*' is data
  CHECK_FALSE(expand_run_length("*a").has_value());      // nothing to repeat
  CHECK_FALSE(expand_run_length("a*").has_value());      // no count
  CHECK_FALSE(expand_run_length("a*\x10").has_value());  // negative count
  const auto events = decode(frame("0* "));
  CHECK(payload_of(events[0]) == "0000");
  CHECK(std::holds_alternative<BadPacketReceived>(decode(frame("*a"))[0]));
}

TEST_CASE("run-length encoding cannot expand a packet past the decoder's bound") {
  CHECK_FALSE(expand_run_length("0*~0*~", 100).has_value());  // 2 * 98 bytes
  CHECK(expand_run_length("0*~", 98) == std::string(98, '0'));
  // 3 bytes on the wire become 98: a frame within the bound must stay within it expanded.
  std::string bomb;
  for (int i = 0; i < 20; ++i) bomb += "0*~";
  Decoder decoder(64);
  std::vector<InputEvent> out;
  decoder.feed(frame(bomb), out);
  decoder.feed(frame("OK"), out);
  REQUIRE(out.size() == 2);
  CHECK(std::holds_alternative<BadPacketReceived>(out[0]));
  CHECK(payload_of(out[1]) == "OK");
}

TEST_CASE("binary escaping round-trips every byte value") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const auto escaped = escape_binary(all);
  CHECK(escaped.find('$') == std::string::npos);
  CHECK(escaped.find('#') == std::string::npos);
  CHECK(escaped.find('*') == std::string::npos);
  CHECK(unescape_binary(escaped) == all);
  CHECK(escape_binary("}") == std::string("}]"));
  CHECK_FALSE(unescape_binary("abc}").has_value());
}

TEST_CASE("hex helpers") {
  CHECK(to_hex(std::string("\x00\xff\x10", 3)) == "00ff10");
  CHECK(from_hex("00FF10") == std::string("\x00\xff\x10", 3));
  CHECK_FALSE(from_hex("abc").has_value());
  CHECK_FALSE(from_hex("zz").has_value());
  CHECK(parse_hex_number("7fffffffffffffff") == 0x7fffffffffffffffULL);
  CHECK_FALSE(parse_hex_number("10000000000000000").has_value());  // 65 bits
  CHECK_FALSE(parse_hex_number("").has_value());
  CHECK(hex_number(0) == "0");
  CHECK(hex_number(0x4a03c0) == "4a03c0");
}

TEST_CASE("random bytes never crash the decoder") {
  std::mt19937 random(1234);
  Decoder decoder(512);
  std::vector<InputEvent> events;
  for (int round = 0; round < 2000; ++round) {
    std::string noise(static_cast<std::size_t>(random() % 64), '\0');
    for (auto& c : noise)
      c = "$#}*+-\x03"
          "0a9fOKqm,:;"[random() % 18];
    decoder.feed(noise, events);
  }
  for (const auto& event : events) {
    if (const auto* packet = std::get_if<PacketReceived>(&event))
      CHECK(packet->payload.size() <= 512 * 127);
  }
}
