// libFuzzer entry: TFRecord framing (build with -DTAUTRAIN_FUZZ=ON, see docs/data-format.md).
#include "FuzzTargets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tautrain::test::fuzzTfRecord(data, size);
  return 0;
}
