#include <gtest/gtest.h>

#include <fstream>

#include "support/TestData.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/config/Yaml.hpp"
#include "tautrain/core/Error.hpp"

using tautrain::ConfigError;
using tautrain::config::loadRunConfig;

namespace {
std::string writeFile(const tautrain::test::TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.file(name)) << text;
  return dir.file(name);
}

std::string errorOf(const std::vector<std::string>& files, const std::vector<std::string>& overrides) {
  try {
    loadRunConfig(files, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(YamlConfig, DefaultsComeFromCode) {
  const auto config = loadRunConfig({}, {});
  EXPECT_EQ(config.data.batch_size, 350);
  EXPECT_EQ(config.generator.class_fractions.size(), 4u);
}

TEST(YamlConfig, FilesApplyLeftToRightThenSet) {
  tautrain::test::TempDir dir;
  const auto a = writeFile(dir, "a.yaml", "data:\n  batch_size: 100\n  threads: 3\n");
  const auto b = writeFile(dir, "b.yaml", "data:\n  batch_size: 200\n");
  const auto config = loadRunConfig({a, b}, {"data.threads=5", "data.pruning.max_tokens={pf: 128}"});
  EXPECT_EQ(config.data.batch_size, 200);
  EXPECT_EQ(config.data.threads, 5);
  EXPECT_EQ(config.data.pruning.max_tokens.at("pf"), 128);
}

TEST(YamlConfig, UnknownKeyNamesPathAndLine) {
  tautrain::test::TempDir dir;
  const auto file = writeFile(dir, "bad.yaml", "data:\n  batch_size: 100\n  batchsize: 3\n");
  const auto message = errorOf({file}, {});
  EXPECT_NE(message.find("'data.batchsize'"), std::string::npos) << message;
  EXPECT_NE(message.find("bad.yaml:3"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown key"), std::string::npos) << message;
}

TEST(YamlConfig, WrongTypeNamesPathAndLine) {
  tautrain::test::TempDir dir;
  const auto file = writeFile(dir, "bad.yaml", "generator:\n  candidates: lots\n");
  const auto message = errorOf({file}, {});
  EXPECT_NE(message.find("'generator.candidates'"), std::string::npos) << message;
  EXPECT_NE(message.find("bad.yaml:2"), std::string::npos) << message;
  EXPECT_NE(message.find("integer"), std::string::npos) << message;
  EXPECT_NE(errorOf({}, {"data.batch_size=1.5"}).find("integer"), std::string::npos);
  EXPECT_NE(errorOf({}, {"generator.seed=-3"}).find("non-negative"), std::string::npos);
}

TEST(YamlConfig, OutOfRangeNamesKeyAndSource) {
  tautrain::test::TempDir dir;
  const auto file = writeFile(dir, "bad.yaml", "data:\n  valid_fraction: 1.5\n");
  const auto message = errorOf({file}, {});
  EXPECT_NE(message.find("'data.valid_fraction'"), std::string::npos) << message;
  EXPECT_NE(message.find("bad.yaml:2"), std::string::npos) << message;
  const auto fromSet = errorOf({}, {"data.pruning.max_dr=-1"});
  EXPECT_NE(fromSet.find("'data.pruning.max_dr'"), std::string::npos) << fromSet;
  EXPECT_NE(fromSet.find("--set data.pruning.max_dr=-1"), std::string::npos) << fromSet;
}

TEST(YamlConfig, BadSetSyntaxAndMissingFileAreErrors) {
  EXPECT_NE(errorOf({}, {"data.batch_size"}).find("key.path=value"), std::string::npos);
  EXPECT_NE(errorOf({"/nonexistent/x.yaml"}, {}).find("/nonexistent/x.yaml"), std::string::npos);
  tautrain::test::TempDir dir;
  const auto file = writeFile(dir, "syntax.yaml", "data: [unclosed\n");
  EXPECT_NE(errorOf({file}, {}).find("syntax.yaml"), std::string::npos);
}

TEST(YamlConfig, NamedSettingsBecomeEnumsAndAWrongNameListsTheAllowedOnes) {
  tautrain::test::TempDir dir;
  const auto file = writeFile(dir, "named.yaml", "train:\n  precision: bf16\n  lr_schedule: cosine\n"
                                                 "model:\n  layout: packed\ndist:\n  batch_scope: global\n");
  const auto config = loadRunConfig({file}, {"model.attention=reference", "dist.backend=gloo"});
  EXPECT_EQ(config.train.precision, tautrain::train::Precision::kBf16);
  EXPECT_EQ(config.train.lr_schedule, tautrain::train::LrSchedule::kCosine);
  EXPECT_EQ(config.model.layout, tautrain::model::Layout::kPacked);
  EXPECT_EQ(config.model.attention, tautrain::model::Attention::kReference);
  EXPECT_EQ(config.dist.batch_scope, tautrain::dist::BatchScope::kGlobal);
  EXPECT_EQ(config.dist.backend, tautrain::dist::Backend::kGloo);
  // The effective config writes the names, with the allowed ones as the key's help.
  const auto dumped = tautrain::config::dumpRunConfig(config);
  EXPECT_NE(dumped.find("lr_schedule: cosine  # constant, cosine or exponential;"), std::string::npos) << dumped;
  EXPECT_NE(dumped.find("batch_scope: global  # per_rank or global;"), std::string::npos) << dumped;

  const auto typo = writeFile(dir, "typo.yaml", "train:\n  precision: fp16\n");
  const auto message = errorOf({typo}, {});
  EXPECT_NE(message.find("'train.precision'"), std::string::npos) << message;
  EXPECT_NE(message.find("must be fp32 or bf16, not 'fp16'"), std::string::npos) << message;
  EXPECT_NE(message.find("typo.yaml:2"), std::string::npos) << message;
  EXPECT_NE(errorOf({}, {"model.attention=flash"}).find("must be reference, fused, varlen or auto, not 'flash'"),
            std::string::npos);
  EXPECT_NE(errorOf({}, {"model.layout=[padded]"}).find("'model.layout'"), std::string::npos);
}

TEST(YamlConfig, DumpReadsBackToTheSameConfig) {
  tautrain::test::TempDir dir;
  const auto original = loadRunConfig({}, {"data.batch_size=123", "generator.class_fractions=[1, 2, 3, 4]",
                                           "train.lr_schedule=exponential", "dist.backend=nccl",
                                           "data.pruning.max_tokens={pf: 64}", "output=somewhere"});
  const auto dumped = tautrain::config::dumpRunConfig(original);
  const auto file = writeFile(dir, "dump.yaml", dumped);
  const auto reread = loadRunConfig({file}, {});
  EXPECT_EQ(tautrain::config::dumpRunConfig(reread), dumped);
  EXPECT_EQ(reread.data.batch_size, 123);
  EXPECT_EQ(reread.data.pruning.max_tokens.at("pf"), 64);
  EXPECT_EQ(reread.output, "somewhere");
}

TEST(YamlConfig, ExampleConfigsInTheRepositoryLoad) {
  for (const char* name : {"configs/quickstart.yaml", "configs/data.yaml", "configs/taut_thesis.yaml"})
    EXPECT_NO_THROW(loadRunConfig({std::string(TAUTRAIN_SOURCE_DIR) + "/" + name}, {})) << name;
}
