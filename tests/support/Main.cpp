#include <gtest/gtest.h>

#include "tautrain/core/Allocator.hpp"

int main(int argc, char** argv) {
  tautrain::configureAllocator();  // as the tautrain executable does
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
