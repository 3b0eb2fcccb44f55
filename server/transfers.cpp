#include "server/transfers.hpp"

#include <fmt/format.h>

#include <cerrno>

#include "protocol/hex.hpp"
#include "protocol/replies.hpp"
#include "server/osdata.hpp"
#include "server/target_description.hpp"

namespace gostub::server {

namespace {
constexpr std::string_view kEmptyTargetXml =
    "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target></target>";
}  // namespace

std::string threads_document(std::span<Program* const> programs, const ClientProfile& profile) {
  std::string xml = "<?xml version=\"1.0\"?>\n<threads>\n";
  for (auto* program : programs) {
    for (const auto thread : program->threads()) {
      xml += fmt::format("<thread id=\"{}\"", profile.thread_id(program->pid(), thread));
      if (const int core = program->thread_core(thread); core >= 0) {
        xml += fmt::format(" core=\"{}\"", core);
      }
      xml += fmt::format(" name=\"{}\"/>\n", protocol::xml_escape(program->thread_name(thread)));
    }
  }
  xml += "</threads>\n";
  return xml;
}

Reply Transfers::read(const protocol::TransferRead& request, Program* program,
                      std::span<Program* const> live, const ClientProfile& profile) {
  const auto key = std::pair{request.object, request.annex};
  auto cached = documents_.find(key);
  if (request.offset == 0 || cached == documents_.end()) {
    std::string document;
    if (request.object == "features") {
      if (request.annex != "target.xml") return Reply::error(ENOENT);
      // Before any program (extended mode) gdb gets gdbserver's empty description: no
      // architecture is claimed, so `set architecture` may pick any until gdb asks again for
      // the program it runs or attaches.
      if (profile.lldb()) {
        document = x86_64_target_xml_for_lldb();
      } else {
        document =
            program == nullptr ? std::string(kEmptyTargetXml) : x86_64_target_xml(program->is_go());
      }
    } else if (request.object == "threads") {
      document = threads_document(live, profile);
    } else if (request.object == "exec-file") {
      // gdb names the inferior's pid (hex) in the annex.
      if (!request.annex.empty()) {
        const auto pid = protocol::parse_hex_number(request.annex);
        program = nullptr;
        for (auto* each : live) {
          if (pid && each->pid() == static_cast<pid_t>(*pid)) program = each;
        }
      }
      if (program == nullptr) return Reply::error(ESRCH);
      document = program->executable();
    } else if (request.object == "auxv") {
      if (program == nullptr) return Reply::error(ESRCH);
      auto auxv = program->auxv();
      if (!auxv) return Reply::error(auxv.error());
      document = std::move(*auxv);
    } else if (request.object == "osdata") {
      // A type gostub does not know: an empty document, as gdbserver ("Wrong osdata type?").
      document = osdata_document(request.annex).value_or(std::string());
    } else {
      return Reply::unsupported();  // an object we do not offer
    }
    cached = documents_.insert_or_assign(key, std::move(document)).first;
  }
  return Reply::packet(protocol::transfer_chunk(cached->second, request.offset, request.length));
}

}  // namespace gostub::server
