// Hex and little-endian helpers shared by packet parsing and reply encoding.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gostub::protocol {

// -1 when c is not a hex digit.
int hex_digit_value(char c);

void append_hex_byte(std::string& out, std::uint8_t byte);
void append_hex(std::string& out, std::string_view bytes);
std::string to_hex(std::string_view bytes);
// nullopt on odd length or a non-hex digit.
std::optional<std::string> from_hex(std::string_view hex);

// Big-endian hex number as the protocol writes addresses and lengths ("7f00", no prefix).
// nullopt when empty, not hex, or wider than 64 bits.
std::optional<std::uint64_t> parse_hex_number(std::string_view hex);
// A number as a user types it: decimal, or hex after 0x. nullopt unless all of it is one.
std::optional<std::uint64_t> parse_number(std::string_view text);
// Text for an XML attribute or element (qXfer documents): <, >, &, " escaped.
std::string xml_escape(std::string_view text);
std::string hex_number(std::uint64_t value);

}  // namespace gostub::protocol
