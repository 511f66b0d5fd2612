#pragma once
// Settings that take one of a few names are enums from where they enter. Each enum declares
// its names once, beside it, as a function found by argument-dependent lookup:
//
//   enum class Precision { kFp32, kBf16 };
//   constexpr std::array<core::Named<Precision>, 2> names(Precision) {
//     return {{{Precision::kFp32, "fp32"}, {Precision::kBf16, "bf16"}}};
//   }
//
// That one table parses the config and the command line, prints the value, lists the allowed
// names in errors and in the config's help, and writes the effective config.
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace tautrain::core {

template <typename E>
struct Named {
  E value;
  const char* name;
};

template <typename E, typename = void>
struct HasNames : std::false_type {};
template <typename E>
struct HasNames<E, std::void_t<decltype(names(E{}))>> : std::true_type {};

template <typename E>
const char* nameOf(E value) {
  for (const auto& entry : names(E{}))
    if (entry.value == value) return entry.name;
  return "?";
}

template <typename E>
std::optional<E> parseName(std::string_view text) {
  for (const auto& entry : names(E{}))
    if (text == entry.name) return entry.value;
  return std::nullopt;
}

/// "fp32 or bf16", "constant, cosine or exponential".
template <typename E>
std::string allowedNames() {
  const auto& table = names(E{});
  std::string text;
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (i > 0) text += i + 1 == table.size() ? " or " : ", ";
    text += table[i].name;
  }
  return text;
}

}  // namespace tautrain::core
