#include "tautrain/train/Trainer.hpp"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/core/Random.hpp"
#include "tautrain/core/StopSignals.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/dist/Communicator.hpp"
#include "tautrain/dist/RankInfo.hpp"
#include "tautrain/eval/Discriminant.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/io/TensorBoard.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/model/TorchCompat.hpp"
#include "tautrain/train/Checkpoint.hpp"
#include "tautrain/train/MultiTensorAdam.hpp"
#include "tautrain/train/Schedule.hpp"
#include "Step.hpp"

namespace tautrain::train {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// Validation outputs kept for the ROC curves of the best epoch.
struct ValidationScores {
  std::vector<float> probabilities, weights;
  std::vector<std::int64_t> labels;
};

/// Validation over this rank's share; in a data-parallel run the sums are all-reduced and the
/// scores gathered, so every rank sees the same figures and takes the same early-stopping step.
EpochRecord validate(model::TauTransformer& model, data::Loader& loader, const torch::Device& device,
                     const LossWeights& weighting, bool bf16, ValidationScores& scores, dist::Communicator* comm) {
  // Sums: loss, weight, then per class correct and total.
  auto sums = torch::zeros({10}, torch::kDouble);
  auto* sum = sums.data_ptr<double>();
  std::vector<float> probabilities, weights;
  std::vector<std::int64_t> labels;
  predict(model, loader, device, bf16,
          [&](const data::LoadedBatch& loaded, const data::TensorBatch& batch, const torch::Tensor& logits) {
            const auto [lossSum, weightSum] = weighting.sums(logits, batch);
            sum[0] += lossSum.item<double>();
            sum[1] += weightSum.item<double>();
            const auto p = torch::softmax(logits, 1).to(torch::kCPU).contiguous();
            probabilities.insert(probabilities.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
            labels.insert(labels.end(), loaded.host.label.begin(), loaded.host.label.end());
            weights.insert(weights.end(), loaded.host.weight.begin(), loaded.host.weight.end());
          });
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const float* row = probabilities.data() + i * 4;
    const auto predicted = std::max_element(row, row + 4) - row;
    sum[2 + labels[i]] += predicted == labels[i];
    sum[6 + labels[i]] += 1;
  }
  if (comm) {
    std::vector<torch::Tensor> reduced{sums};
    comm->allReduceSum(reduced);
    // Rows of (4 probabilities, label, weight) from every rank, in rank order.
    const auto n = static_cast<std::int64_t>(labels.size());
    auto rows = torch::empty({n, 6}, torch::kFloat);
    auto* r = rows.data_ptr<float>();
    for (std::int64_t i = 0; i < n; ++i) {
      std::copy_n(probabilities.data() + 4 * i, 4, r + 6 * i);
      r[6 * i + 4] = static_cast<float>(labels[i]);
      r[6 * i + 5] = weights[i];
    }
    const auto all = comm->allGatherRows(rows).contiguous();
    const auto* a = all.data_ptr<float>();
    const auto total = all.size(0);
    probabilities.resize(4 * total), labels.resize(total), weights.resize(total);
    for (std::int64_t i = 0; i < total; ++i) {
      std::copy_n(a + 6 * i, 4, probabilities.data() + 4 * i);
      labels[i] = static_cast<std::int64_t>(a[6 * i + 4]);
      weights[i] = a[6 * i + 5];
    }
  }
  EpochRecord record;
  record.valid_loss = sum[1] > 0 ? sum[0] / sum[1] : 0;
  double allCorrect = 0, all = 0;
  for (int k = 0; k < 4; ++k) {
    record.class_accuracy[k] = sum[6 + k] > 0 ? sum[2 + k] / sum[6 + k] : 0;
    allCorrect += sum[2 + k], all += sum[6 + k];
  }
  record.valid_accuracy = all > 0 ? allCorrect / all : 0;
  const auto discriminants = eval::summarizeDiscriminants(probabilities, labels, weights);
  record.auc = discriminants.auc;
  record.medium_fpr = discriminants.medium_fpr;
  scores = {std::move(probabilities), std::move(weights), std::move(labels)};
  return record;
}

/// ROC curves of D_e, D_mu, D_jet on the validation set, thinned for plotting.
void writeRocCurves(const fs::path& path, const ValidationScores& s) {
  std::string csv = "discriminant,tpr,fpr,threshold\n";
  for (std::size_t d = 0; d < eval::kBackgrounds.size(); ++d) {
    const auto curve = eval::discriminantRoc(s.probabilities, s.labels, eval::kBackgrounds[d], s.weights);
    for (const auto& p : eval::thinnedRoc(curve, {eval::kMediumTpr[d]}))
      csv += fmt::format("{},{:.6g},{:.6g},{:.6g}\n", eval::kDiscriminantNames[d], p.tpr, p.fpr, p.threshold);
  }
  io::writeFileAtomic(path.string(), csv);
}

/// Keeps the `keep` newest epoch checkpoints and the best one (keep 0: all).
void pruneCheckpoints(const fs::path& directory, int keep, int bestEpoch) {
  if (keep <= 0) return;
  static const std::regex name(R"(epoch-(\d+)\.pt)");
  std::vector<std::pair<int, fs::path>> epochs;
  for (const auto& entry : fs::directory_iterator(directory)) {
    std::smatch match;
    const auto file = entry.path().filename().string();
    if (std::regex_match(file, match, name)) epochs.emplace_back(std::stoi(match[1]), entry.path());
  }
  std::sort(epochs.begin(), epochs.end());
  for (std::size_t i = 0; i + keep < epochs.size(); ++i)
    if (epochs[i].first != bestEpoch) fs::remove(epochs[i].second);
}

/// Step losses left on the device until something needs them (a log line, a checkpoint, the
/// epoch's end), then read in one transfer: the step loop itself never waits for a GPU.
class PendingLosses {
 public:
  void add(torch::Tensor loss, int epoch, std::int64_t step, std::int64_t batch) {
    m_losses.push_back(std::move(loss));
    m_where.push_back({epoch, step, batch});
  }

  /// Adds the losses to `lossSum` and returns the newest (NaN when none). A non-finite loss
  /// ends the run here, before any checkpoint is written, so the last good one stays.
  double settle(double& lossSum) {
    if (m_losses.empty()) return std::numeric_limits<double>::quiet_NaN();
    const auto values = torch::stack(m_losses).to(torch::kCPU, torch::kDouble).contiguous();
    const double* value = values.data_ptr<double>();
    for (std::size_t i = 0; i < m_losses.size(); ++i) {
      const auto& [epoch, step, batch] = m_where[i];
      TAUTRAIN_CHECK(std::isfinite(value[i]), Error, "loss is ", value[i], " at epoch ", epoch, ", step ", step,
                     " (batch ", batch, "); the last good checkpoint is kept");
      lossSum += value[i];
    }
    const double newest = value[m_losses.size() - 1];
    m_losses.clear(), m_where.clear();
    return newest;
  }

 private:
  struct Where {
    int epoch;
    std::int64_t step, batch;
  };
  std::vector<torch::Tensor> m_losses;
  std::vector<Where> m_where;
};

void setLearningRate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

/// Empties the per-epoch counters for the next epoch.
void startNextEpoch(TrainingState& state) {
  state.step = 0, state.loss_sum = 0, state.candidates = 0, state.seconds = 0;
  state.epoch_complete = false;
}

/// "a.h5, b.h5" (the first few of many).
std::string fileList(const std::vector<std::string>& files) {
  std::string list;
  for (std::size_t i = 0; i < files.size() && i < 3; ++i) list += (i ? ", " : "") + files[i];
  return files.size() > 3 ? fmt::format("{} and {} more", list, files.size() - 3) : list;
}

/// Training needs candidates, and validation every class: each discriminant's AUC and working
/// point compare taus with one background, and the class accuracies are per class. Without them
/// the figures early stopping and the history report would be numbers without meaning.
void checkTrainable(const data::Dataset& train, const std::vector<std::string>& trainFiles, const data::Dataset& valid,
                    const std::vector<std::string>& validFiles) {
  TAUTRAIN_CHECK(train.size() > 0, DataError, "the training files hold no candidates: ", fileList(trainFiles));
  TAUTRAIN_CHECK(valid.size() > 0, DataError, "the validation files hold no candidates: ", fileList(validFiles));
  const auto counts = valid.classCounts();
  for (int k = 0; k < data::kNumClasses; ++k)
    TAUTRAIN_CHECK(counts[k] > 0, DataError, "the validation files hold no ", data::kClassNames[k],
                   " candidates (e/mu/tau/jet: ", counts[0], "/", counts[1], "/", counts[2], "/", counts[3],
                   "), so the validation accuracy and discriminants would be meaningless: ", fileList(validFiles));
}

/// The epoch's figures as TensorBoard scalars, at the global step where the epoch ended.
void logEpoch(io::EventWriter& events, const EpochRecord& r, std::int64_t step) {
  events.scalar("epoch", step, r.epoch);
  events.scalar("loss/train", step, r.train_loss);
  events.scalar("loss/valid", step, r.valid_loss);
  events.scalar("learning_rate", step, r.learning_rate);
  events.scalar("throughput/candidates_per_s", step, r.candidates_per_s);
  events.scalar("accuracy/all", step, r.valid_accuracy);
  for (int k = 0; k < data::kNumClasses; ++k)
    events.scalar(std::string("accuracy/") + data::kClassNames[k], step, r.class_accuracy[k]);
  for (std::size_t d = 0; d < eval::kBackgrounds.size(); ++d) {
    events.scalar(std::string("auc/") + eval::kDiscriminantNames[d], step, r.auc[d]);
    events.scalar(std::string("medium_wp_fpr/") + eval::kDiscriminantNames[d], step, r.medium_fpr[d]);
  }
}

TrainResult resultOf(const TrainingState& state) {
  TrainResult result;
  result.history = state.history;
  result.best_epoch = state.best_epoch;
  result.best_valid_loss = state.best_valid_loss;
  return result;
}

}  // namespace

TrainResult runTraining(const config::RunConfig& config, const std::string& resumeFrom) {
  // From here on SIGTERM/SIGINT only set a flag: a signal during the set-up still ends with a
  // checkpoint and the checkpoint exit code.
  const StopSignalGuard signals;
  auto logger = log::get("train");
  const auto& tc = config.train;
  const auto rank = dist::rankFromEnvironment();
  const auto device = setUpDevice(tc, rank);
  const bool bf16 = tc.precision == "bf16";
  // In a data-parallel run every rank trains; rank 0 alone writes the run directory.
  std::unique_ptr<dist::Communicator> comm;
  if (rank.distributed()) comm = std::make_unique<dist::Communicator>(config.dist, rank, device.is_cuda());
  const bool lead = rank.rank == 0;
  // Whether any rank says yes (every rank must call it at the same point).
  const auto anyRank = [&](bool local) {
    if (!comm) return local;
    std::vector<torch::Tensor> flag{torch::tensor({local ? 1.0f : 0.0f})};
    comm->allReduceSum(flag);
    return flag[0].item<float>() > 0;
  };

  const fs::path runDir = config.output;
  if (lead) fs::create_directories(runDir / "checkpoints");
  const auto schema = data::FeatureSchema::fromSpec(config.data.features);
  const auto split = data::splitFiles(config.data);
  TAUTRAIN_CHECK_KEY(!split.valid.empty(), "data.valid_fraction", "training needs validation files");
  const data::Dataset train(split.train, schema, data::readOptions(config.data));
  const data::Dataset valid(split.valid, schema, data::readOptions(config.data));
  logger->info("{} training candidates in {} files, {} validation candidates in {} files", train.size(),
               split.train.size(), valid.size(), split.valid.size());
  checkTrainable(train, split.train, valid, split.valid);

  TrainingState state;
  if (!resumeFrom.empty()) state = readCheckpointState(resumeFrom);
  std::string scalerJson = state.scaler_json;
  if (resumeFrom.empty() && lead)
    scalerJson = (config.data.scaler.empty() ? data::StandardScaler::fit(train, config.data.threads)
                                             : data::StandardScaler::load(config.data.scaler))
                     .toJson()
                     .dump();
  if (comm && resumeFrom.empty()) comm->broadcastString(scalerJson);
  const auto scaler = data::StandardScaler::fromJson(nlohmann::json::parse(scalerJson),
                                                     resumeFrom.empty() ? "the fitted scaler" : resumeFrom);
  if (lead) scaler.save((runDir / "scaler.json").string());
  state.scaler_json = scalerJson;
  state.config_yaml = config::dumpRunConfig(config);

  const bool globalBatches = config.dist.batch_scope == "global";
  data::Loader trainLoader(train, scaler, tensorLoaderOptions(config.data, config.seed, device, rank,
                                                             globalBatches ? data::RankShare::kBatchSlices
                                                                           : data::RankShare::kBlocks));
  data::Loader validLoader(valid, scaler,
                           tensorLoaderOptions(config.data, config.seed, device, rank, data::RankShare::kWholeBatches));

  torch::manual_seed(config.seed);
  model::TauTransformer model(schema, config.model);
  model->to(device);
  for (const auto& [block, count] : model->parameterCounts()) logger->info("  {:<16} {:>9} parameters", block, count);
  logger->info("TauTransformer: {} trainable parameters, {} layout, {} attention", model->parameterCount(),
               config.model.layout, model->fusedAttention() ? "fused" : "reference");
  MultiTensorAdam optimizer(model->parameters(), torch::optim::AdamOptions(tc.learning_rate)
                                                        .betas({tc.beta1, tc.beta2})
                                                        .eps(tc.epsilon));
  bool ownRng = false;
  if (!resumeFrom.empty()) {
    ownRng = restoreCheckpoint(resumeFrom, *model, &optimizer, device, rank.rank, rank.world_size);
    logger->info("resumed from {}: epoch {}, step {} ({} steps in all)", resumeFrom, state.epoch, state.step,
                 state.global_step);
  }
  if (comm) {
    // Identical weights everywhere; each rank then draws its own dropout masks.
    std::vector<torch::Tensor> parameters;
    for (auto& p : model->parameters()) parameters.push_back(p.detach());
    comm->broadcast(parameters);
    if (!ownRng) {
      if (!resumeFrom.empty())
        logger->warn("{} holds no generator states for {} ranks: dropout masks are reseeded", resumeFrom,
                     rank.world_size);
      torch::manual_seed(streamSeed(streamSeed(config.seed, 0xd157, static_cast<std::uint64_t>(rank.rank)),
                                    static_cast<std::uint64_t>(state.global_step)));
    }
    logger->info("data-parallel over {} ranks ({}), batch_scope {}: {} candidates per step", rank.world_size,
                 comm->backend(), config.dist.batch_scope,
                 globalBatches ? config.data.batch_size : config.data.batch_size * rank.world_size);
  }
  const LossWeights weighting(tc, device);
  std::unique_ptr<io::EventWriter> events;
  if (tc.tensorboard && lead) {
    events = std::make_unique<io::EventWriter>(runDir.string());
    // TensorBoard drops every point at or after a restart's step: what the killed process logged
    // after its checkpoint goes, what it logged up to it (the checkpoint's own step) stays.
    if (!resumeFrom.empty()) events->restart(state.global_step + 1);
  }

  TrainResult result = resultOf(state);
  if (state.epoch_complete) {
    if (state.stalled >= tc.patience || state.epoch >= tc.max_epochs) {
      logger->info("{} finished this run already (epoch {})", resumeFrom, state.epoch);
      result.early_stopped = state.stalled >= tc.patience;
      return result;
    }
    state.epoch += 1;
    startNextEpoch(state);
  }

  PendingLosses pendingLosses;
  // Writes `paths` (rank 0); every rank contributes its generator states.
  const auto checkpoint = [&](const std::vector<std::string>& paths) {
    pendingLosses.settle(state.loss_sum);
    const auto rankRng = comm ? comm->allGatherRows(rankRngState(device)) : torch::Tensor();
    if (lead) saveCheckpoint(paths, *model, optimizer, state, device, rankRng);
  };
  auto lastCheckpoint = Clock::now();
  std::int64_t stepsHere = 0;
  // Writes last.pt mid-epoch; `stopping` says so in the log.
  const auto checkpointMidEpoch = [&](bool stopping) {
    checkpoint({(runDir / "last.pt").string()});
    lastCheckpoint = Clock::now();
    if (stopping) logger->info("checkpoint written at epoch {} step {}: {}", state.epoch, state.step, (runDir / "last.pt").string());
  };
  // A signal reaches the ranks at different moments; they agree on it through the step's all-reduce.
  bool signalAgreed = false;
  const auto stopRequested = [&] {
    const bool signalled = comm ? signalAgreed : StopSignalGuard::stopRequested() != 0;
    return signalled || (tc.stop_after_steps > 0 && stepsHere >= tc.stop_after_steps);
  };
  std::int64_t reportedReplacements = 0;
  for (; state.epoch <= tc.max_epochs; ++state.epoch) {
    const int epoch = state.epoch;
    model->train();
    trainLoader.startEpoch(epoch, state.step);
    std::int64_t batches = trainLoader.batchesInEpoch();
    if (tc.max_batches_per_epoch > 0) batches = std::min(batches, tc.max_batches_per_epoch);
    const auto firstStep = state.step;
    ProgressMeter progress(logger, fmt::format("epoch {}", epoch), batches - firstStep, "steps", 10.0);
    double lr = learningRate(tc, state.global_step, batches);
    while (state.step < batches) {
      if (stopRequested()) {
        checkpointMidEpoch(true);
        result.interrupted = true;
        return result;
      }
      auto loaded = trainLoader.next();
      if (!loaded) break;
      const auto stepStart = Clock::now();
      const auto batch = loaded->tensors->to(device);
      lr = learningRate(tc, state.global_step, batches);
      setLearningRate(optimizer, lr);
      const bool timeDue =
          tc.checkpoint_every_minutes > 0 && secondsSince(lastCheckpoint) >= 60 * tc.checkpoint_every_minutes;
      // Flags all ranks act on together: a stop signal (any rank), a checkpoint due by time (rank 0's clock).
      std::vector<float> flags{StopSignalGuard::stopRequested() != 0 ? 1.0f : 0.0f, lead && timeDue ? 1.0f : 0.0f};
      pendingLosses.add(trainStep(model, optimizer, weighting, batch, device, bf16, comm.get(), &flags).detach(), epoch,
                        state.step, loaded->host.index);
      signalAgreed = flags[0] > 0;
      state.candidates += comm ? static_cast<std::int64_t>(batch.size) * rank.world_size : batch.size;
      state.seconds += secondsSince(stepStart);
      ++state.step, ++state.global_step, ++stepsHere;
      if (state.global_step % tc.log_every == 0) {
        // Waiting here for the device is step time too: the steps themselves only queue work.
        const auto settleStart = Clock::now();
        const double value = pendingLosses.settle(state.loss_sum);
        state.seconds += secondsSince(settleStart);
        const double perStep = state.seconds / static_cast<double>(state.step);
        logger->info("epoch {} step {}/{} loss {:.4f} lr {:.3g}, {:.0f} candidates/s, epoch ETA {:.0f}s", epoch,
                     state.step, batches, value, lr, static_cast<double>(state.candidates) / state.seconds,
                     perStep * static_cast<double>(batches - state.step));
        if (events) {
          events->scalar("train/step_loss", state.global_step, value);
          events->scalar("train/learning_rate", state.global_step, lr);
        }
      }
      progress.update(state.step - firstStep);
      const bool stepDue = tc.checkpoint_every_steps > 0 && state.global_step % tc.checkpoint_every_steps == 0;
      if ((stepDue || (comm ? flags[1] > 0 : timeDue)) && state.step < batches) {
        checkpointMidEpoch(tc.exit_after_checkpoint);
        if (tc.exit_after_checkpoint) {
          result.interrupted = true;
          return result;
        }
      }
    }
    pendingLosses.settle(state.loss_sum);
    ValidationScores scores;
    EpochRecord record = validate(model, validLoader, device, weighting, bf16, scores, comm.get());
    record.epoch = epoch;
    record.train_loss = state.step > 0 ? state.loss_sum / static_cast<double>(state.step) : 0;
    record.learning_rate = lr;
    record.seconds = state.seconds;
    record.candidates_per_s = state.seconds > 0 ? static_cast<double>(state.candidates) / state.seconds : 0;
    state.history.push_back(record);
    if (events) logEpoch(*events, record, state.global_step);
    // data.non_finite: replace promises a count of what it replaced.
    if (const auto replaced = train.replacedValues() + valid.replacedValues(); replaced > reportedReplacements) {
      log::get("data")->warn("{} NaN/Inf feature values replaced by 0 so far (data.non_finite: replace)", replaced);
      reportedReplacements = replaced;
    }
    log::get("valid")->info("epoch {}: train loss {:.4f}, valid loss {:.4f}, accuracy {:.4f}, AUC D_e {:.4f} D_mu {:.4f} "
                            "D_jet {:.4f}, Medium-WP FPR D_e {:.3g} D_mu {:.3g} D_jet {:.3g}, {:.0f} candidates/s",
                            epoch, record.train_loss, record.valid_loss, record.valid_accuracy, record.auc[0],
                            record.auc[1], record.auc[2], record.medium_fpr[0], record.medium_fpr[1],
                            record.medium_fpr[2], record.candidates_per_s);

    const bool improved = state.best_epoch == 0 || record.valid_loss < state.best_valid_loss;
    if (improved) {
      state.best_epoch = epoch;
      state.best_valid_loss = record.valid_loss;
      state.stalled = 0;
    } else {
      ++state.stalled;
    }
    state.epoch_complete = true;
    std::vector<std::string> paths{(runDir / "checkpoints" / fmt::format("epoch-{:03d}.pt", epoch)).string(),
                                   (runDir / "last.pt").string()};
    if (improved) paths.push_back((runDir / "best.pt").string());
    checkpoint(paths);
    // Under exit_after_checkpoint only a checkpoint the process exits after is kept by the batch
    // system, so the interval keeps counting from there.
    const bool periodicDue =
        (tc.checkpoint_every_steps > 0 && state.global_step % tc.checkpoint_every_steps == 0) ||
        anyRank(lead && tc.checkpoint_every_minutes > 0 && secondsSince(lastCheckpoint) >= 60 * tc.checkpoint_every_minutes);
    if (!tc.exit_after_checkpoint) lastCheckpoint = Clock::now();
    if (lead) {
      if (improved) writeRocCurves(runDir / "roc-best.csv", scores);
      pruneCheckpoints(runDir / "checkpoints", tc.keep_checkpoints, state.best_epoch);
      writeHistory(runDir.string(), state.history);
    }
    result = resultOf(state);
    if (state.stalled >= tc.patience) {
      logger->info("early stopping: no better validation loss for {} epochs (best: epoch {})", state.stalled,
                   state.best_epoch);
      result.early_stopped = true;
      break;
    }
    signalAgreed = anyRank(StopSignalGuard::stopRequested() != 0);
    if (epoch < tc.max_epochs && (stopRequested() || (tc.exit_after_checkpoint && periodicDue))) {
      logger->info("stopping after epoch {} as asked; its checkpoint is {}", epoch, (runDir / "last.pt").string());
      result.interrupted = true;
      break;
    }
    startNextEpoch(state);
  }
  return result;
}

}  // namespace tautrain::train
