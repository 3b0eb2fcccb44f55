#include "target/error.hpp"

#include <cerrno>
#include <cstring>

namespace gostub::target {

Error last_system_error(std::string what) {
  const int code = errno;
  return Error{code, std::move(what) + ": " + std::strerror(code)};
}

std::unexpected<Error> fail(int code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

}  // namespace gostub::target
