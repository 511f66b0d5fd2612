#pragma once
// tf.train.Example records without protobuf types in the interface: a map from key to a list
// of floats, int64s or byte strings.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tautrain::io {

struct TfFeature {
  enum class Kind { kNone, kBytes, kFloat, kInt64 };
  Kind kind = Kind::kNone;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
  std::vector<std::string> bytes;

  std::size_t size() const;
};

using TfExample = std::map<std::string, TfFeature, std::less<>>;

/// Parses a serialized tf.train.Example; false when the bytes are not one.
bool parseExample(std::string_view bytes, TfExample& example);
std::string serializeExample(const TfExample& example);

const char* kindName(TfFeature::Kind kind);

}  // namespace tautrain::io
