// The build information Go writes into every binary (.go.buildinfo): toolchain version, main
// module, dependencies and build settings; what `go version -m` prints. Both layouts: before
// Go 1.18 the header points at Go strings elsewhere in the data; since, the strings follow it.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "symbols/elf_image.hpp"
#include "symbols/error.hpp"

namespace gostub::symbols {

struct Module {
  std::string path;
  std::string version;
  std::string sum;
  std::optional<std::pair<std::string, std::string>> replaced_by;  // path, version
};

struct BuildInfo {
  std::string go_version;  // "go1.21.5"
  std::string path;        // the main package
  std::optional<Module> main;
  std::vector<Module> dependencies;
  std::vector<std::pair<std::string, std::string>> settings;  // "-ldflags", "CGO_ENABLED", …
  bool inline_strings = false;                                // the 1.18+ layout
  std::string module_text;  // as stored, for printing it the way `go version -m` does

  const std::string* setting(std::string_view key) const;
  // Minor version of the toolchain (21 for "go1.21.5"); nullopt for devel or unknown builds.
  std::optional<int> go_minor() const;
};

Result<BuildInfo> read_build_info(const ElfImage& image);
// The module text (what runtime/debug.ParseBuildInfo reads), parsed into `info`.
Result<void> parse_module_info(std::string_view text, BuildInfo& info);

}  // namespace gostub::symbols
