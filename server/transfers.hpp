// qXfer objects: target.xml, the thread list, the executable's path, auxv. A document is made
// when the client reads it at offset 0 and served in chunks from that copy.
#pragma once

#include <map>
#include <span>
#include <string>
#include <utility>

#include "protocol/commands.hpp"
#include "server/client_profile.hpp"
#include "server/program.hpp"

namespace gostub::server {

class Transfers {
 public:
  // `program`, the current one, is nullptr before there is one; `live`: every live program
  // (the thread list names them all).
  Reply read(const protocol::TransferRead& request, Program* program,
             std::span<Program* const> live, const ClientProfile& profile);
  // A new program: nothing made for the old one is served.
  void forget() { documents_.clear(); }

 private:
  std::map<std::pair<std::string, std::string>, std::string> documents_;  // (object, annex)
};

// <threads> for qXfer:threads: every thread's id, core and name, of every program given.
std::string threads_document(std::span<Program* const> programs, const ClientProfile& profile);

}  // namespace gostub::server
