#pragma once
// How a module's Config struct takes part in YAML configuration, without including yaml-cpp.
//
// A Config struct lists its fields once, in a member template:
//
//   struct PruningConfig {
//     double max_dr = 0;
//     template <class V> void describe(V& v) {
//       v("max_dr", max_dr, "drop tokens with dR above this (0: keep all)");
//     }
//     void validate() const;  // optional; throws ConfigError naming the key
//   };
//
// and nested sections with v.section("name", sub). The config module reads YAML into it
// (rejecting unknown keys and wrong types), writes it back, and runs every validate().
#include <type_traits>

namespace tautrain::config {

template <typename T, typename = void>
struct HasValidate : std::false_type {};
template <typename T>
struct HasValidate<T, std::void_t<decltype(std::declval<const T&>().validate())>> : std::true_type {};

}  // namespace tautrain::config
