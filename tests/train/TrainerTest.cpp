#include "tautrain/train/Trainer.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/Checkpoints.hpp"
#include "support/TestData.hpp"
#include "support/TinyRun.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"
#include "tautrain/io/TensorBoard.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Checkpoint.hpp"

using namespace tautrain;

namespace {

std::vector<std::string> eventFiles(const std::string& runDir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(runDir))
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

/// Every scalar series of a run's event files, as TensorBoard's EventAccumulator shows them: it
/// reads the files in name order and, on a SessionLog START at step s (in files of version 2),
/// purges every point read so far with step >= s. Our writer puts the START first in its file.
std::map<std::string, std::map<std::int64_t, double>> tensorBoardView(const std::vector<io::EventLog>& logs) {
  std::map<std::string, std::map<std::int64_t, double>> view;
  for (const auto& log : logs) {
    EXPECT_EQ(log.file_version, "brain.Event:2");
    for (const auto restart : log.restarts)
      for (auto& [tag, series] : view) series.erase(series.lower_bound(restart), series.end());
    for (const auto& s : log.scalars) view[s.tag][s.step] = s.value;
  }
  return view;
}

std::map<std::int64_t, double> scalarSeries(const std::vector<io::EventLog>& logs, const std::string& tag) {
  return tensorBoardView(logs)[tag];
}

/// What TensorBoard shows of a run directory, without the throughput (wall-clock) series.
std::map<std::string, std::map<std::int64_t, double>> tensorBoardRun(const std::string& runDir) {
  std::vector<io::EventLog> logs;
  for (const auto& f : eventFiles(runDir)) logs.push_back(io::readEvents(f));
  auto view = tensorBoardView(logs);
  view.erase("throughput/candidates_per_s");
  return view;
}

}  // namespace

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

  // TensorBoard: one event file with each epoch's figures at the step where the epoch ended.
  const auto files = eventFiles(dir.file("run"));
  ASSERT_EQ(files.size(), 1u);
  const std::vector<io::EventLog> logs{io::readEvents(files[0])};
  const auto epochs = scalarSeries(logs, "epoch");
  ASSERT_EQ(epochs.size(), 3u);
  std::size_t e = 0;
  for (const auto& [step, epoch] : epochs) {
    const auto& r = result.history[e++];
    EXPECT_EQ(epoch, r.epoch);
    EXPECT_EQ(scalarSeries(logs, "loss/valid").at(step), static_cast<float>(r.valid_loss));
    EXPECT_EQ(scalarSeries(logs, "loss/train").at(step), static_cast<float>(r.train_loss));
    EXPECT_EQ(scalarSeries(logs, "accuracy/tau").at(step), static_cast<float>(r.class_accuracy[2]));
    EXPECT_EQ(scalarSeries(logs, "auc/D_jet").at(step), static_cast<float>(r.auc[2]));
    EXPECT_EQ(scalarSeries(logs, "medium_wp_fpr/D_e").at(step), static_cast<float>(r.medium_fpr[0]));
    EXPECT_EQ(scalarSeries(logs, "learning_rate").at(step), static_cast<float>(r.learning_rate));
    EXPECT_EQ(scalarSeries(logs, "throughput/candidates_per_s").at(step), static_cast<float>(r.candidates_per_s));
  }

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

using test::tinyRun;

TEST(Trainer, RunStoppedAtArbitraryStepsAndResumedEndsBitwiseIdentical) {
  test::TempDir dir;
  const auto straight = tinyRun(dir, "straight", {"train.log_every=1"});
  data::SyntheticGenerator(data::FeatureSchema::builtin(), straight.generator).writeShards();
  const auto reference = train::runTraining(straight);
  ASSERT_FALSE(reference.interrupted);

  // Stops every 4 steps (mid-epoch and across epoch ends), with extra checkpoints every 3.
  const auto config = tinyRun(dir, "stopped", {"train.stop_after_steps=4", "train.checkpoint_every_steps=3", "train.log_every=1"});
  auto result = train::runTraining(config);
  // 27 steps in 3 epochs
  EXPECT_EQ(test::resumeUntilDone(result, dir.file("stopped")), (std::vector<std::int64_t>{4, 8, 12, 16, 20, 24}));
  ASSERT_EQ(result.history.size(), reference.history.size());
  for (std::size_t e = 0; e < result.history.size(); ++e) {
    EXPECT_EQ(result.history[e].train_loss, reference.history[e].train_loss) << "epoch " << e + 1;
    EXPECT_EQ(result.history[e].valid_loss, reference.history[e].valid_loss) << "epoch " << e + 1;
    EXPECT_EQ(result.history[e].learning_rate, reference.history[e].learning_rate) << "epoch " << e + 1;
  }
  // Seven processes wrote seven event files; together they show the uninterrupted run's curves.
  const auto files = eventFiles(dir.file("stopped"));
  ASSERT_EQ(files.size(), 7u);
  std::vector<io::EventLog> logs;
  for (const auto& f : files) logs.push_back(io::readEvents(f));
  EXPECT_EQ(logs[1].restarts, std::vector<std::int64_t>{5});  // the first step the resumed process logs
  const auto shown = tensorBoardRun(dir.file("stopped"));
  EXPECT_EQ(shown, tensorBoardRun(dir.file("straight")));
  EXPECT_EQ(shown.at("train/step_loss").size(), 27u);
  EXPECT_EQ(shown.at("epoch").size(), 3u);

  const auto a = test::parametersOf(dir.file("straight") + "/last.pt"), b = test::parametersOf(dir.file("stopped") + "/last.pt");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
}

TEST(Trainer, ResumedAtAnEpochsEndTensorBoardStillShowsThatEpoch) {
  // The usual eviction: a stop at the end of epoch 1 (step 9), then a resume to the end.
  test::TempDir dir;
  const auto straight = tinyRun(dir, "straight", {"train.max_epochs=2", "train.log_every=1"});
  data::SyntheticGenerator(data::FeatureSchema::builtin(), straight.generator).writeShards();
  ASSERT_FALSE(train::runTraining(straight).interrupted);
  auto config = tinyRun(dir, "stopped", {"train.max_epochs=2", "train.log_every=1", "train.stop_after_steps=9"});
  ASSERT_TRUE(train::runTraining(config).interrupted);
  config.train.stop_after_steps = 0;
  ASSERT_FALSE(train::runTraining(config, dir.file("stopped") + "/last.pt").interrupted);

  const auto shown = tensorBoardRun(dir.file("stopped"));
  EXPECT_EQ(shown.at("loss/valid").size(), 2u);
  EXPECT_EQ(shown.at("loss/valid").count(9), 1u);
  EXPECT_EQ(shown, tensorBoardRun(dir.file("straight")));
}

TEST(Trainer, StepScalarsComeEveryLogEveryStepsCountedOverTheWholeRun) {
  test::TempDir dir;
  const auto config = tinyRun(dir, "run", {"train.max_epochs=2", "train.log_every=4"});
  data::SyntheticGenerator(data::FeatureSchema::builtin(), config.generator).writeShards();
  ASSERT_FALSE(train::runTraining(config).interrupted);
  // 9 steps an epoch: global steps 4, 8, 12, 16 (not 4, 8 of each epoch: 4, 8, 13, 17).
  const auto shown = tensorBoardRun(dir.file("run"));
  std::vector<std::int64_t> steps;
  for (const auto& [step, loss] : shown.at("train/step_loss")) steps.push_back(step);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{4, 8, 12, 16}));
}

TEST(Trainer, KeepPolicyPrunesOldEpochsButNeverTheBest) {
  test::TempDir dir;
  // A learning rate this high makes later epochs worse, so the best one is early.
  auto config = tinyRun(dir, "run", {"train.max_epochs=4", "train.keep_checkpoints=1", "train.patience=10"});
  data::SyntheticGenerator(data::FeatureSchema::builtin(), config.generator).writeShards();
  const auto result = train::runTraining(config);
  const std::filesystem::path checkpoints = dir.file("run") + "/checkpoints";
  std::vector<std::string> kept;
  for (const auto& entry : std::filesystem::directory_iterator(checkpoints)) kept.push_back(entry.path().filename());
  std::sort(kept.begin(), kept.end());
  std::vector<std::string> expected{fmt::format("epoch-{:03d}.pt", result.best_epoch)};
  if (result.best_epoch != 4) expected.push_back("epoch-004.pt");
  EXPECT_EQ(kept, expected);
  // best.pt is the best epoch's full checkpoint.
  const auto best = train::readCheckpointState(dir.file("run") + "/best.pt");
  EXPECT_EQ(best.epoch, result.best_epoch);
  EXPECT_TRUE(best.epoch_complete);
  EXPECT_EQ(best.history.size(), static_cast<std::size_t>(result.best_epoch));
}

TEST(Trainer, ClassWeightsChangeTheObjective) {
  test::TempDir dir;
  auto plain = tinyRun(dir, "plain", {"train.max_epochs=1"});
  data::SyntheticGenerator(data::FeatureSchema::builtin(), plain.generator).writeShards();
  const auto a = train::runTraining(plain);
  // Only taus count: the loss is that of the tau class alone, which the model learns first.
  const auto b = train::runTraining(tinyRun(dir, "taus", {"train.max_epochs=1", "train.class_weights=[0, 0, 1, 0]"}));
  EXPECT_NE(a.history[0].train_loss, b.history[0].train_loss);
  EXPECT_THROW(tinyRun(dir, "bad", {"train.class_weights=[1, 1]"}), ConfigError);
  EXPECT_THROW(tinyRun(dir, "bad", {"train.class_weights=[1, -1, 1, 1]"}), ConfigError);
}

TEST(Trainer, UnreadableCheckpointIsADataErrorNamingTheFile) {
  test::TempDir dir;
  std::ofstream(dir.file("last.pt")) << "not a checkpoint";
  try {
    train::readCheckpointState(dir.file("last.pt"));
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("last.pt")), std::string::npos) << e.what();
  }
  EXPECT_THROW(train::readCheckpointState(dir.file("missing.pt")), DataError);
}

TEST(Trainer, NonFiniteLossStopsWithEpochStepAndBatchAndKeepsTheLastCheckpoint) {
  test::TempDir dir;
  auto config = tinyRun(dir, "run", {"train.max_epochs=1", "train.lr_schedule=constant", "train.warmup_steps=0"});
  data::SyntheticGenerator(data::FeatureSchema::builtin(), config.generator).writeShards();
  train::runTraining(config);
  const auto checkpoint = dir.file("run") + "/last.pt";
  // Resumed with an absurd learning rate, the weights blow up within a few steps.
  auto resumed = config::parseRunConfig(train::readCheckpointState(checkpoint).config_yaml, checkpoint,
                                        {"train.max_epochs=3", "train.learning_rate=1e30"});
  resumed.output = dir.file("run");
  try {
    train::runTraining(resumed, checkpoint);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("loss is"), std::string::npos) << message;
    EXPECT_NE(message.find("epoch 2, step"), std::string::npos) << message;
    EXPECT_NE(message.find("(batch "), std::string::npos) << message;
  }
  const auto state = train::readCheckpointState(checkpoint);
  EXPECT_EQ(state.epoch, 1);
  EXPECT_TRUE(state.epoch_complete);
}
