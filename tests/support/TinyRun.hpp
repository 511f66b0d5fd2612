#pragma once
// The smallest training run that exercises every part of the trainer.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/TestData.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/train/Checkpoint.hpp"
#include "tautrain/train/Trainer.hpp"

namespace tautrain::test {

/// A tiny run: 1200 synthetic candidates, 9 training steps of 100 per epoch, dropout on.
inline config::RunConfig tinyRun(const TempDir& dir, const std::string& output, std::vector<std::string> extra = {}) {
  std::vector<std::string> overrides{
      "output=" + dir.file(output), "generator.candidates=1200", "generator.shard_size=300",
      "generator.output=" + dir.file("data"), "data.files=[" + dir.file("data") + "]", "data.valid_fraction=0.25",
      "data.batch_size=100", "model.d_model=8", "model.heads=2", "model.layers=1", "model.embed_hidden=16",
      "model.d_ff=16", "model.decoder_hidden1=16", "model.decoder_hidden2=8", "train.max_epochs=3",
      "train.learning_rate=0.003", "train.lr_schedule=cosine", "train.warmup_steps=5", "seed=9"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return config::loadRunConfig({}, overrides);
}

/// Resumes a run that `result` says was interrupted from its last.pt, with the checkpoint's own
/// config, until it ends; returns the global step of each checkpoint it resumed from.
inline std::vector<std::int64_t> resumeUntilDone(train::TrainResult& result, const std::string& output) {
  std::vector<std::int64_t> resumedAt;
  while (result.interrupted && resumedAt.size() < 100) {
    const auto checkpoint = (std::filesystem::path(output) / "last.pt").string();
    const auto state = train::readCheckpointState(checkpoint);
    resumedAt.push_back(state.global_step);
    auto config = config::parseRunConfig(state.config_yaml, checkpoint);
    config.output = output;
    result = train::runTraining(config, checkpoint);
  }
  EXPECT_FALSE(result.interrupted) << "still interrupted after " << resumedAt.size() << " resumes";
  return resumedAt;
}

}  // namespace tautrain::test
