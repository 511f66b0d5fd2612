#include "tautrain/core/Machine.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support/TestData.hpp"
#include "tautrain/core/Allocator.hpp"
#include "tautrain/io/Gnuplot.hpp"

namespace {

std::string contentOf(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST(RunProgram, ReturnsTheExitCodeAndSendsTheOutputWhereAsked) {
  tautrain::test::TempDir dir;
  const auto both = dir.file("both.log"), out = dir.file("out.log"), err = dir.file("err.log");
  const std::vector<std::string> talk{"sh", "-c", "echo to-out; echo to-err >&2; exit 3"};
  EXPECT_EQ(tautrain::runProgram(talk, both, both), 3);
  EXPECT_EQ(contentOf(both), "to-out\nto-err\n");
  EXPECT_EQ(tautrain::runProgram(talk, out, err), 3);
  EXPECT_EQ(contentOf(out), "to-out\n");
  EXPECT_EQ(contentOf(err), "to-err\n");
  // Arguments reach the program as they are: no shell splits or expands them.
  EXPECT_EQ(tautrain::runProgram({"printf", "%s|", "a b", "$HOME", "it's"}, out), 0);
  EXPECT_EQ(contentOf(out), "a b|$HOME|it's|");
  EXPECT_EQ(tautrain::runProgram({"no-such-program-anywhere"}, out), 127);
  EXPECT_EQ(tautrain::runProgram({"sh", "-c", "kill -9 $$"}, out), 128 + 9);
}

TEST(RunProgram, GnuplotRunsScriptsWhosePathsHoldQuotes) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) GTEST_SKIP() << "no gnuplot (Debian: gnuplot-nox)";
  tautrain::test::TempDir dir;
  const auto stem = dir.file("it's a plot");
  ASSERT_TRUE(tautrain::io::runGnuplot(stem, "set print '" + dir.file("sum.txt") + "'\nprint 1 + 2\n"));
  EXPECT_EQ(contentOf(dir.file("sum.txt")), "3\n");
  EXPECT_FALSE(tautrain::io::runGnuplot(stem, "this is no gnuplot\n"));
  EXPECT_NE(contentOf(stem + ".log").find("line 1"), std::string::npos) << contentOf(stem + ".log");
}

// tautrain and this test binary link the same allocator (tautrain::allocator in CMake).
#ifdef TAUTRAIN_WITH_JEMALLOC
constexpr const char* kAllocator = "jemalloc ";
#else
constexpr const char* kAllocator = "glibc";
#endif

TEST(Allocator, IsJemallocWithTransparentHugePagesUnlessBuiltWithout) {
  tautrain::configureAllocator();
  const auto name = tautrain::allocatorName();
  EXPECT_EQ(name.rfind(kAllocator, 0), 0u) << name;
  if (name.rfind("jemalloc", 0) == 0) {
    EXPECT_NE(name.find("(thp: always)"), std::string::npos) << name;
  }
}
