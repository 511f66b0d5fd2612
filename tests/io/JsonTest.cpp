#include "tautrain/io/Json.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/TestData.hpp"
#include "tautrain/core/Error.hpp"

using namespace tautrain;

TEST(Json, AtomicWriteReplacesWholeFilesAndFailsCleanly) {
  test::TempDir dir;
  const auto path = dir.file("state.json");
  io::writeJson(path, {{"epoch", 1}});
  io::writeJson(path, {{"epoch", 2}});
  EXPECT_EQ(io::readJson(path)["epoch"], 2);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  // A write that cannot happen throws and leaves the good file alone.
  std::filesystem::create_directory(dir.file("blocked.json"));
  EXPECT_THROW(io::writeJson(dir.file("blocked.json"), {{"x", 1}}), Error);
  EXPECT_EQ(io::readJson(path)["epoch"], 2);
  EXPECT_THROW(io::writeJson(dir.file("missing/dir/x.json"), {{"x", 1}}), Error);
}

TEST(Json, InvalidJsonNamesTheFile) {
  test::TempDir dir;
  std::ofstream(dir.file("bad.json")) << "{not json";
  try {
    io::readJson(dir.file("bad.json"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos);
  }
}
