#include "server/function_search.hpp"

#include <fmt/core.h>
#include <re2/re2.h>

namespace gostub::server {

namespace {

// RE2 compiles within this much memory; a larger pattern is refused, not built.
constexpr std::int64_t kMaxPatternMemory = 8 << 20;

}  // namespace

std::string list_matching_functions(const symbols::LineTable& lines, std::uint64_t bias,
                                    std::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxPatternMemory);
  const RE2 expression(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!expression.ok()) return fmt::format("bad regular expression: {}\n", expression.error());
  std::string out;
  std::size_t matched = 0;
  for (std::uint32_t i = 0; i < lines.function_count(); ++i) {
    const auto function = lines.function(i);
    if (!function) continue;
    const auto name = lines.name(*function);
    if (!RE2::PartialMatch(re2::StringPiece(name.data(), name.size()), expression)) continue;
    if (++matched <= kMaxListedFunctions)
      out += fmt::format("{:#x} {}\n", function->entry + bias, name);
  }
  if (matched == 0) return "no function matches\n";
  if (matched > kMaxListedFunctions) {
    out += fmt::format("... and {} more; narrow the expression\n", matched - kMaxListedFunctions);
  }
  return out;
}

}  // namespace gostub::server
