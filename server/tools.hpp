// gostub's offline commands, for scripting and tests: they read a Go binary, never a process.
//   gostub info PROG              `go version -m` plus what gostub knows of the binary
//   gostub symbolize PROG ADDR…   function and file:line of each address
//   gostub lines PROG FUNC        where each source line of FUNC starts
//   gostub functions PROG         every function: entry, end, name
//   gostub layout PROG            the runtime offsets and wait reasons gostub uses for it
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gostub::server {

// Runs the command if `arguments` names one; nullopt when it is not a tool command.
std::optional<int> run_tool(const std::vector<std::string>& arguments);

}  // namespace gostub::server
