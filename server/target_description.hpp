// The target description (qXfer:features:read:target.xml), generated from target/'s register
// table so that the register numbering exists in one place only.
#pragma once

#include <string>

namespace gostub::server {

const std::string& x86_64_target_xml();

}  // namespace gostub::server
