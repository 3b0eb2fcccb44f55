// `monitor eval re:REGEXP`: the Go functions whose names match a client's regular expression.
// Matching is RE2's, in time linear in the name whatever the pattern (std::regex backtracks,
// and `(.*)*x` stalled the one event loop), and the listing is capped: no pattern makes one
// packet cost more than one pass over the function table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "symbols/line_table.hpp"

namespace gostub::server {

// At most this many functions are listed; a line says how many more matched.
inline constexpr std::size_t kMaxListedFunctions = 10'000;

// "ENTRY NAME" lines (runtime addresses: `bias` added), "no function matches", or why the
// pattern is refused.
std::string list_matching_functions(const symbols::LineTable& lines, std::uint64_t bias,
                                    std::string_view pattern);

}  // namespace gostub::server
