#pragma once
// Exceptions carry their context (file, key, candidate) in the message; only main() catches them.
#include <sstream>
#include <stdexcept>
#include <string>

namespace tautrain {

/// Base of every error the library reports; main maps it to a non-zero exit code.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad configuration: names the key path and, where known, the YAML source and line.
class ConfigError : public Error {
 public:
  ConfigError(std::string key, const std::string& message)
      : Error(key.empty() ? message : "'" + key + "': " + message), m_key(std::move(key)), m_message(message) {}
  const std::string& key() const { return m_key; }
  /// The message without the key.
  const std::string& message() const { return m_message; }

 private:
  std::string m_key;
  std::string m_message;
};

/// Bad or unreadable input data: names the file and, where known, the candidate.
class DataError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace tautrain

/// Throws ErrorType with the streamed message parts when cond is false.
#define TAUTRAIN_CHECK(cond, ErrorType, ...)                          \
  do {                                                                \
    if (!(cond)) throw ErrorType(::tautrain::detail::concat(__VA_ARGS__)); \
  } while (false)

/// Throws ConfigError for `key` with the streamed message parts when cond is false.
#define TAUTRAIN_CHECK_KEY(cond, key, ...)                                       \
  do {                                                                           \
    if (!(cond)) throw ::tautrain::ConfigError(key, ::tautrain::detail::concat(__VA_ARGS__)); \
  } while (false)
