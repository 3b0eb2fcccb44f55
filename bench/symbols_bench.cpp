// Load, index and query a Go binary's tables; prints one row of the performance table.
//   symbols_bench BINARY [LOOKUPS]
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "symbols/go_binary.hpp"

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
// Resident memory in KiB, split as the kernel counts it: the heap and other private memory
// (RssAnon), and pages of mapped files (RssFile: the binary, shared with the page cache).
struct Resident {
  long anonymous = 0;
  long file = 0;
};
Resident resident() {
  Resident out;
  std::FILE* status = std::fopen("/proc/self/status", "r");
  char line[256];
  while (status != nullptr && std::fgets(line, sizeof line, status) != nullptr) {
    std::sscanf(line, "RssAnon: %ld", &out.anonymous);
    std::sscanf(line, "RssFile: %ld", &out.file);
  }
  if (status != nullptr) std::fclose(status);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: symbols_bench BINARY [LOOKUPS]\n");
    return 2;
  }
  const long lookups = argc > 2 ? std::stol(argv[2]) : 1'000'000;
  const auto before = resident();

  const auto load_start = std::chrono::steady_clock::now();
  auto binary = gostub::symbols::GoBinary::open(argv[1]);
  if (!binary) {
    fmt::print(stderr, "{}\n", binary.error().message);
    return 1;
  }
  const double load = seconds_since(load_start);
  const auto& lines = binary->lines();

  // The name index is the one structure built on demand; build it to count its cost.
  const auto index_start = std::chrono::steady_clock::now();
  const bool found = lines.find_by_name("runtime.main").has_value();
  const double index = seconds_since(index_start);
  const auto loaded = resident();

  const auto first = lines.function(0);
  const auto last = lines.function(lines.function_count() - 1);
  std::mt19937_64 random(42);
  std::uniform_int_distribution<std::uint64_t> pcs(first->entry, last->end - 1);
  long resolved = 0;
  const auto lookup_start = std::chrono::steady_clock::now();
  for (long i = 0; i < lookups; ++i) {
    if (const auto line = lines.source_line(pcs(random)); line && line->line > 0) ++resolved;
  }
  const double lookup = seconds_since(lookup_start);

  std::uint64_t file_size = binary->image().file().size();
  std::uint64_t pclntab_size = 0;
  for (const auto& section : binary->image().sections()) {
    if (section.name.find("gopclntab") != std::string::npos) pclntab_size = section.size;
  }
  const auto after = resident();
  const auto megabytes = [](long kib) { return static_cast<double>(kib) / 1024.0; };
  fmt::print(
      "| {} | {:.1f} MB | {} | {} | {:.1f} ms | {:.1f} ms | {:.2f} M/s | {:.1f} MB | {:.1f} MB | "
      "{:.1f} MB |{}\n",
      argv[1], static_cast<double>(file_size) / 1e6,
      pclntab_size ? fmt::format("{:.1f} MB", static_cast<double>(pclntab_size) / 1e6)
                   : std::string("no section"),
      lines.function_count(), load * 1e3, index * 1e3, static_cast<double>(lookups) / lookup / 1e6,
      megabytes(loaded.anonymous - before.anonymous), megabytes(after.anonymous - before.anonymous),
      megabytes(after.file - before.file), found && resolved > 0 ? "" : " (lookup failed)");
  return 0;
}
