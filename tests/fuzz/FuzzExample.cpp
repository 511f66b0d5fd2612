// libFuzzer entry: tf.train.Example parsing and decoding into candidates.
#include "FuzzTargets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tautrain::test::fuzzExample(data, size);
  return 0;
}
