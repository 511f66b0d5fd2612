#include "tautrain/train/Trainer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/TestData.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"

using namespace tautrain;

TEST(Trainer, LearnsTheSyntheticClassesAndWritesItsRun) {
  test::TempDir dir;
  auto config = config::loadRunConfig(
      {}, {"output=" + dir.file("run"), "generator.candidates=3000", "generator.shard_size=750",
           "generator.output=" + dir.file("data"), "data.files=[" + dir.file("data") + "]", "data.valid_fraction=0.25",
           "data.batch_size=100", "model.d_model=16", "model.heads=2", "model.layers=1", "model.embed_hidden=32",
           "model.d_ff=32", "model.decoder_hidden1=32", "model.decoder_hidden2=16", "train.max_epochs=3",
           "train.learning_rate=0.003", "seed=4"});
  data::SyntheticGenerator(data::FeatureSchema::builtin(), config.generator).writeShards();
  const auto result = train::runTraining(config);
  ASSERT_EQ(result.history.size(), 3u);
  const auto& last = result.history.back();
  // Chance is ln 4 = 1.386 and AUC 0.5; the classes are separable.
  EXPECT_LT(last.valid_loss, 1.0);
  EXPECT_GT(last.auc[2], 0.8);  // D_jet
  EXPECT_GT(last.valid_accuracy, 0.6);
  EXPECT_LT(last.train_loss, result.history.front().train_loss);
  for (const char* file :
       {"history.json", "history.csv", "best.pt", "last.pt", "scaler.json", "roc-best.csv", "checkpoints/epoch-003.pt"})
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir.file("run")) / file)) << file;
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir.file("run")) / "last.pt.tmp"));

  // The best epoch's ROC curves: each discriminant's TPR and FPR never decrease and end at 1.
  std::ifstream roc(std::filesystem::path(dir.file("run")) / "roc-best.csv");
  std::string line;
  std::getline(roc, line);
  std::map<std::string, std::pair<double, double>> curveEnd;
  while (std::getline(roc, line)) {
    std::stringstream fields(line);
    std::string name, tpr, fpr;
    std::getline(fields, name, ',');
    std::getline(fields, tpr, ',');
    std::getline(fields, fpr, ',');
    auto& previous = curveEnd[name];
    EXPECT_GE(std::stod(tpr), previous.first) << line;
    EXPECT_GE(std::stod(fpr), previous.second) << line;
    previous = {std::stod(tpr), std::stod(fpr)};
  }
  ASSERT_EQ(curveEnd.size(), 3u);
  for (const auto& [name, end] : curveEnd) {
    EXPECT_DOUBLE_EQ(end.first, 1.0) << name;
    EXPECT_DOUBLE_EQ(end.second, 1.0) << name;
  }
}
