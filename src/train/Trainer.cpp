#include "tautrain/train/Trainer.hpp"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Machine.hpp"
#include "tautrain/core/Measure.hpp"
#include "tautrain/core/Names.hpp"
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
#include "tautrain/train/Checkpoint.hpp"
#include "tautrain/train/HostMemory.hpp"
#include "tautrain/train/MultiTensorAdam.hpp"
#include "tautrain/train/Schedule.hpp"
#include "Step.hpp"

namespace tautrain::train {

namespace fs = std::filesystem;

namespace {

/// Validation outputs kept for the ROC curves of the best epoch.
struct ValidationScores {
  std::vector<float> probabilities, weights;
  std::vector<std::int64_t> labels;
};

/// What validation adds up over a rank's share.
struct ValidationSums {
  double loss = 0, weight = 0;
  std::array<double, data::kNumClasses> correct{}, total{};

  /// Every rank's sums, added in one all-reduce.
  void allReduce(dist::Communicator& comm) {
    std::vector<double> flat{loss, weight};
    flat.insert(flat.end(), correct.begin(), correct.end());
    flat.insert(flat.end(), total.begin(), total.end());
    std::vector<torch::Tensor> packed{torch::tensor(flat, torch::kDouble)};
    comm.allReduceSum(packed);
    const double* sum = packed[0].data_ptr<double>();
    loss = sum[0], weight = sum[1];
    std::copy_n(sum + 2, data::kNumClasses, correct.begin());
    std::copy_n(sum + 2 + data::kNumClasses, data::kNumClasses, total.begin());
  }
};

/// Validation over this rank's share; in a data-parallel run the sums are all-reduced and the
/// scores gathered, so every rank sees the same figures and takes the same early-stopping step.
EpochRecord validate(model::TauTransformer& model, data::Loader& loader, const torch::Device& device,
                     const LossWeights& weighting, bool bf16, ValidationScores& scores, dist::Communicator* comm,
                     GraphedModel* graphs) {
  ValidationSums sums;
  std::vector<float> probabilities, weights;
  std::vector<std::int64_t> labels;
  predict(model, loader, device, bf16,
          [&](const data::LoadedBatch& loaded, const data::TensorBatch& batch, const torch::Tensor& logits) {
            const auto [lossSum, weightSum] = weighting.sums(logits, batch);
            sums.loss += lossSum.item<double>();
            sums.weight += weightSum.item<double>();
            const auto p = torch::softmax(logits, 1).to(torch::kCPU).contiguous();
            probabilities.insert(probabilities.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
            labels.insert(labels.end(), loaded.host.label.begin(), loaded.host.label.end());
            weights.insert(weights.end(), loaded.host.weight.begin(), loaded.host.weight.end());
          },
          graphs);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const float* row = probabilities.data() + i * 4;
    const auto predicted = std::max_element(row, row + 4) - row;
    sums.correct[labels[i]] += predicted == labels[i];
    sums.total[labels[i]] += 1;
  }
  if (comm) {
    sums.allReduce(*comm);
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
  record.valid_loss = sums.weight > 0 ? sums.loss / sums.weight : 0;
  double allCorrect = 0, all = 0;
  for (int k = 0; k < data::kNumClasses; ++k) {
    record.class_accuracy[k] = sums.total[k] > 0 ? sums.correct[k] / sums.total[k] : 0;
    allCorrect += sums.correct[k], all += sums.total[k];
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

/// Everything a run trains with, set up once: the ranks, the data and its scaler, the model and
/// optimizer (restored when resuming), the TensorBoard writer, and the state it continues from.
class Run {
 public:
  Run(const config::RunConfig& config, const std::string& resumeFrom)
      : m_config(config),
        m_logger(log::get("train")),
        m_rank(dist::rankFromEnvironment()),
        m_device(setUpDevice(config.train, m_rank)),
        m_bf16(config.train.precision == Precision::kBf16),
        m_runDir(config.output),
        m_schema(data::FeatureSchema::fromSpec(config.data.features)) {
    // In a data-parallel run every rank trains; rank 0 alone writes the run directory.
    if (m_rank.distributed()) m_comm = std::make_unique<dist::Communicator>(config.dist, m_rank, m_device.is_cuda());
    if (lead()) fs::create_directories(m_runDir / "checkpoints");
    loadData(resumeFrom);
    buildModel(resumeFrom);
    m_hostMemory = predictHostMemory(config, m_trainExtent, m_validExtent, m_model->parameterCount(), m_longest,
                                     m_device.is_cuda(), m_rank.world_size);
    m_weighting = std::make_unique<LossWeights>(config.train, m_device);
    if (config.train.tensorboard && lead()) {
      m_events = std::make_unique<io::EventWriter>(m_runDir.string());
      // TensorBoard drops every point at or after a restart's step: what the killed process
      // logged after its checkpoint goes, what it logged up to it (the checkpoint's own step) stays.
      if (!resumeFrom.empty()) m_events->restart(state.global_step + 1);
    }
  }

  TrainingState state;

  bool lead() const { return m_rank.rank == 0; }
  bool distributed() const { return m_comm != nullptr; }
  const fs::path& runDir() const { return m_runDir; }
  /// Whether any rank says yes (every rank must call it at the same point).
  bool anyRank(bool local) {
    if (!m_comm) return local;
    std::vector<torch::Tensor> flag{torch::tensor({local ? 1.0f : 0.0f})};
    m_comm->allReduceSum(flag);
    return flag[0].item<float>() > 0;
  }

  /// Starts epoch state.epoch at state.step; returns its number of steps.
  std::int64_t startEpoch() {
    m_model->train();
    m_trainLoader->startEpoch(state.epoch, state.step);
    std::int64_t batches = m_trainLoader->batchesInEpoch();
    if (m_config.train.max_batches_per_epoch > 0) batches = std::min(batches, m_config.train.max_batches_per_epoch);
    m_progress = std::make_unique<ProgressMeter>(m_logger, fmt::format("epoch {}", state.epoch), batches - state.step,
                                                 "steps", 10.0);
    m_epochBatches = batches, m_firstStep = state.step;
    m_lr = learningRate(m_config.train, state.global_step, batches);
    return batches;
  }
  std::optional<data::LoadedBatch> nextBatch() { return m_trainLoader->next(); }

  /// One optimisation step on `loaded`, agreeing with the other ranks on `agreement`; logs it
  /// every train.log_every steps.
  void update(const data::LoadedBatch& loaded, StepAgreement& agreement) {
    const auto stepStart = SteadyClock::now();
    const auto batch = loaded.tensors->to(m_device);
    m_lr = learningRate(m_config.train, state.global_step, m_epochBatches);
    setLearningRate(*m_optimizer, m_lr);
    const auto loss = trainStep(m_model, *m_optimizer, *m_weighting, batch, m_device, m_bf16, m_comm.get(),
                                m_comm ? &agreement : nullptr, m_graphs.get());
    m_pendingLosses.add(loss.detach(), state.epoch, state.step, loaded.host.index);
    state.candidates += m_comm ? static_cast<std::int64_t>(batch.size) * m_rank.world_size : batch.size;
    state.seconds += secondsSince(stepStart);
    ++state.step, ++state.global_step;
    if (state.global_step % m_config.train.log_every == 0) logStep();
    m_progress->update(state.step - m_firstStep);
  }

  /// Writes `paths` (rank 0); every rank contributes its generator states.
  void checkpoint(const std::vector<std::string>& paths) {
    m_pendingLosses.settle(state.loss_sum);
    const auto rankRng = m_comm ? m_comm->allGatherRows(rankRngState(m_device)) : torch::Tensor();
    if (lead()) saveCheckpoint(paths, *m_model, *m_optimizer, state, m_device, rankRng);
  }
  /// last.pt in the middle of an epoch; `stopping` says so in the log.
  void checkpointMidEpoch(bool stopping) {
    checkpoint({(m_runDir / "last.pt").string()});
    if (stopping)
      m_logger->info("checkpoint written at epoch {} step {}: {}", state.epoch, state.step,
                     (m_runDir / "last.pt").string());
  }

  /// The epoch's validation, its record in the history, log and TensorBoard.
  EpochRecord validateEpoch(ValidationScores& scores) {
    m_pendingLosses.settle(state.loss_sum);
    EpochRecord record =
        validate(m_model, *m_validLoader, m_device, *m_weighting, m_bf16, scores, m_comm.get(), m_graphs.get());
    if (m_graphs) m_logger->info("{}", m_graphs->summary());
    record.epoch = state.epoch;
    record.train_loss = state.step > 0 ? state.loss_sum / static_cast<double>(state.step) : 0;
    record.learning_rate = m_lr;
    record.seconds = state.seconds;
    record.candidates_per_s = state.seconds > 0 ? static_cast<double>(state.candidates) / state.seconds : 0;
    state.history.push_back(record);
    if (m_events) logEpoch(*m_events, record, state.global_step);
    reportReplacedValues();
    reportHostMemory();
    log::get("valid")->info("epoch {}: train loss {:.4f}, valid loss {:.4f}, accuracy {:.4f}, AUC D_e {:.4f} D_mu {:.4f} "
                            "D_jet {:.4f}, Medium-WP FPR D_e {:.3g} D_mu {:.3g} D_jet {:.3g}, {:.0f} candidates/s",
                            state.epoch, record.train_loss, record.valid_loss, record.valid_accuracy, record.auc[0],
                            record.auc[1], record.auc[2], record.medium_fpr[0], record.medium_fpr[1],
                            record.medium_fpr[2], record.candidates_per_s);
    return record;
  }

  /// The validated epoch's checkpoints (epoch-NNN.pt, last.pt, best.pt when `improved`) and,
  /// from rank 0, the best epoch's ROC curves, pruned checkpoints and the history files.
  void saveEpoch(bool improved, const ValidationScores& scores) {
    state.epoch_complete = true;
    std::vector<std::string> paths{(m_runDir / "checkpoints" / fmt::format("epoch-{:03d}.pt", state.epoch)).string(),
                                   (m_runDir / "last.pt").string()};
    if (improved) paths.push_back((m_runDir / "best.pt").string());
    checkpoint(paths);
    if (!lead()) return;
    if (improved) writeRocCurves(m_runDir / "roc-best.csv", scores);
    pruneCheckpoints(m_runDir / "checkpoints", m_config.train.keep_checkpoints, state.best_epoch);
    writeHistory(m_runDir.string(), state.history);
  }

 private:
  bool globalBatches() const { return m_config.dist.batch_scope == dist::BatchScope::kGlobal; }

  void loadData(const std::string& resumeFrom) {
    const auto split = data::splitFiles(m_config.data);
    TAUTRAIN_CHECK_KEY(!split.valid.empty(), "data.valid_fraction", "training needs validation files");
    m_train = std::make_unique<data::Dataset>(split.train, m_schema, data::readOptions(m_config.data));
    m_valid = std::make_unique<data::Dataset>(split.valid, m_schema, data::readOptions(m_config.data));
    m_logger->info("{} training candidates in {} files, {} validation candidates in {} files", m_train->size(),
                   split.train.size(), m_valid->size(), split.valid.size());
    checkTrainable(*m_train, split.train, *m_valid, split.valid);

    if (!resumeFrom.empty()) state = readCheckpointState(resumeFrom);
    // Rank 0 fits (or loads) the scaler of a new run and hands it to the others; a resumed run
    // keeps its checkpoint's.
    std::string scalerJson = state.scaler_json;
    if (resumeFrom.empty() && lead())
      scalerJson = (m_config.data.scaler.empty() ? data::StandardScaler::fit(*m_train, m_config.data.threads)
                                                 : data::StandardScaler::load(m_config.data.scaler))
                       .toJson()
                       .dump();
    if (m_comm && resumeFrom.empty()) m_comm->broadcastString(scalerJson);
    m_scaler = std::make_unique<data::StandardScaler>(data::StandardScaler::fromJson(
        nlohmann::json::parse(scalerJson), resumeFrom.empty() ? "the fitted scaler" : resumeFrom));
    if (lead()) m_scaler->save((m_runDir / "scaler.json").string());
    state.scaler_json = scalerJson;
    state.config_yaml = config::dumpRunConfig(m_config);

    auto trainOptions = tensorLoaderOptions(m_config.data, m_config.seed, m_device, m_rank,
                                            globalBatches() ? data::RankShare::kBatchSlices : data::RankShare::kBlocks);
    auto validOptions =
        tensorLoaderOptions(m_config.data, m_config.seed, m_device, m_rank, data::RankShare::kWholeBatches);
    // Few distinct batch shapes, so that few graphs serve them.
    trainOptions.bucket_lengths = validOptions.bucket_lengths = usesCudaGraphs(m_config.train, m_device);
    m_trainLoader = std::make_unique<data::Loader>(*m_train, *m_scaler, trainOptions);
    m_validLoader = std::make_unique<data::Loader>(*m_valid, *m_scaler, validOptions);
    m_longest = m_trainLoader->longestCandidate();
    m_trainExtent = data::measureExtent(split.train, m_schema);
    m_validExtent = data::measureExtent(split.valid, m_schema);
  }

  void buildModel(const std::string& resumeFrom) {
    const auto& tc = m_config.train;
    torch::manual_seed(m_config.seed);
    m_model = model::TauTransformer(m_schema, m_config.model);
    m_model->to(m_device);
    for (const auto& [block, count] : m_model->parameterCounts())
      m_logger->info("  {:<16} {:>9} parameters", block, count);
    m_graphs = graphsFor(tc, m_model, m_device);
    const auto attention = m_model->varlenAttention() && m_device.is_cuda() && !m_graphs ? model::Attention::kVarlen
                           : m_model->fusedAttention()                                 ? model::Attention::kFused
                                                                                       : model::Attention::kReference;
    m_logger->info("TauTransformer: {} trainable parameters, {} layout, {} attention{}", m_model->parameterCount(),
                   core::nameOf(m_graphs ? model::Layout::kPadded : m_config.model.layout), core::nameOf(attention),
                   m_graphs ? fmt::format(", encoder replayed from CUDA graphs (lengths bucketed, at most {} shapes)",
                                          tc.cuda_graph_limit)
                            : "");
    m_optimizer = std::make_unique<MultiTensorAdam>(
        m_model->parameters(), torch::optim::AdamOptions(tc.learning_rate).betas({tc.beta1, tc.beta2}).eps(tc.epsilon));
    bool ownRng = false;
    if (!resumeFrom.empty()) {
      ownRng = restoreCheckpoint(resumeFrom, *m_model, m_optimizer.get(), m_device, m_rank.rank, m_rank.world_size);
      m_logger->info("resumed from {}: epoch {}, step {} ({} steps in all)", resumeFrom, state.epoch, state.step,
                     state.global_step);
    }
    if (!m_comm) return;
    // Identical weights everywhere; each rank then draws its own dropout masks.
    std::vector<torch::Tensor> parameters;
    for (auto& p : m_model->parameters()) parameters.push_back(p.detach());
    m_comm->broadcast(parameters);
    if (!ownRng) {
      if (!resumeFrom.empty())
        m_logger->warn("{} holds no generator states for {} ranks: dropout masks are reseeded", resumeFrom,
                       m_rank.world_size);
      torch::manual_seed(streamSeed(streamSeed(m_config.seed, 0xd157, static_cast<std::uint64_t>(m_rank.rank)),
                                    static_cast<std::uint64_t>(state.global_step)));
    }
    m_logger->info("data-parallel over {} ranks ({}), batch_scope {}: {} candidates per step", m_rank.world_size,
                   core::nameOf(m_comm->backend()), core::nameOf(m_config.dist.batch_scope),
                   globalBatches() ? m_config.data.batch_size : m_config.data.batch_size * m_rank.world_size);
  }

  void logStep() {
    // Waiting here for the device is step time too: the steps themselves only queue work.
    const auto settleStart = SteadyClock::now();
    const double value = m_pendingLosses.settle(state.loss_sum);
    state.seconds += secondsSince(settleStart);
    const double perStep = state.seconds / static_cast<double>(state.step);
    m_logger->info("epoch {} step {}/{} loss {:.4f} lr {:.3g}, {:.0f} candidates/s, epoch ETA {:.0f}s", state.epoch,
                   state.step, m_epochBatches, value, m_lr, static_cast<double>(state.candidates) / state.seconds,
                   perStep * static_cast<double>(m_epochBatches - state.step));
    if (m_events) {
      m_events->scalar("train/step_loss", state.global_step, value);
      m_events->scalar("train/learning_rate", state.global_step, m_lr);
    }
  }

  /// The peak so far against what `tautrain condor` asks HTCondor for (train/HostMemory.hpp).
  void reportHostMemory() {
    const auto& p = m_hostMemory;
    log::get("memory")->info("host memory: peak {:.2f} GB so far, predicted {:.2f} GB (program {:.2f}, index {:.2f}, "
                             "loader {:.2f}, training {:.2f}; longest training candidate {} tokens)",
                             static_cast<double>(peakResidentBytes()) / 1e9, p.total() / 1e9, p.program / 1e9,
                             p.index / 1e9, p.windows / 1e9, p.training / 1e9, m_longest);
  }

  /// data.non_finite: replace promises a count of what it replaced.
  void reportReplacedValues() {
    const auto replaced = m_train->replacedValues() + m_valid->replacedValues();
    if (replaced <= m_reportedReplacements) return;
    log::get("data")->warn("{} NaN/Inf feature values replaced by 0 so far (data.non_finite: replace)", replaced);
    m_reportedReplacements = replaced;
  }

  const config::RunConfig& m_config;
  std::shared_ptr<spdlog::logger> m_logger;
  dist::RankInfo m_rank;
  torch::Device m_device;
  bool m_bf16;
  fs::path m_runDir;
  data::FeatureSchema m_schema;  // the datasets and loaders read it as they go
  std::unique_ptr<dist::Communicator> m_comm;
  std::unique_ptr<data::Dataset> m_train, m_valid;
  std::unique_ptr<data::StandardScaler> m_scaler;  // the loaders read it as they go
  std::unique_ptr<data::Loader> m_trainLoader, m_validLoader;
  std::int64_t m_longest = 0;  ///< tokens of the longest training candidate
  data::DataExtent m_trainExtent, m_validExtent;
  HostMemory m_hostMemory;
  model::TauTransformer m_model{nullptr};
  std::unique_ptr<MultiTensorAdam> m_optimizer;
  std::unique_ptr<GraphedModel> m_graphs;
  std::unique_ptr<LossWeights> m_weighting;
  std::unique_ptr<io::EventWriter> m_events;
  PendingLosses m_pendingLosses;
  std::unique_ptr<ProgressMeter> m_progress;
  std::int64_t m_epochBatches = 0, m_firstStep = 0;
  double m_lr = 0;
  std::int64_t m_reportedReplacements = 0;
};

}  // namespace

TrainResult runTraining(const config::RunConfig& config, const std::string& resumeFrom) {
  // From here on SIGTERM/SIGINT only set a flag: a signal during the set-up still ends with a
  // checkpoint and the checkpoint exit code.
  const StopSignalGuard signals;
  Run run(config, resumeFrom);
  auto& state = run.state;
  TrainingSchedule schedule(config.train, run.distributed(), run.lead());
  auto logger = log::get("train");

  TrainResult result = resultOf(state);
  if (state.epoch_complete) {
    if (schedule.patienceRunOut(state.stalled) || schedule.lastEpoch(state.epoch)) {
      logger->info("{} finished this run already (epoch {})", resumeFrom, state.epoch);
      result.early_stopped = schedule.patienceRunOut(state.stalled);
      return result;
    }
    state.epoch += 1;
    startNextEpoch(state);
  }
  const auto interrupted = [&] {
    result.interrupted = true;
    return result;
  };

  for (; state.epoch <= config.train.max_epochs; ++state.epoch) {
    const auto batches = run.startEpoch();
    while (state.step < batches) {
      if (schedule.stopRequested()) {
        run.checkpointMidEpoch(true);
        return interrupted();
      }
      const auto loaded = run.nextBatch();
      if (!loaded) break;
      auto agreement = schedule.localView();
      run.update(*loaded, agreement);
      schedule.stepped(agreement);
      if (schedule.checkpointDue(state.global_step) && state.step < batches) {
        run.checkpointMidEpoch(schedule.exitsAfterCheckpoint());
        schedule.checkpointed();
        if (schedule.exitsAfterCheckpoint()) return interrupted();
      }
    }

    ValidationScores scores;
    const auto record = run.validateEpoch(scores);
    const bool improved = TrainingSchedule::recordValidation(state.best_epoch, state.best_valid_loss, state.stalled,
                                                             state.epoch, record.valid_loss);
    run.saveEpoch(improved, scores);
    const bool periodicDue = schedule.periodicCheckpointDue(state.global_step, [&](bool v) { return run.anyRank(v); });
    schedule.epochCheckpointed();
    result = resultOf(state);
    if (schedule.patienceRunOut(state.stalled)) {
      logger->info("early stopping: no better validation loss for {} epochs (best: epoch {})", state.stalled,
                   state.best_epoch);
      result.early_stopped = true;
      break;
    }
    schedule.signalAgreed(run.anyRank(StopSignalGuard::stopRequested() != 0));
    if (!schedule.lastEpoch(state.epoch) &&
        (schedule.stopRequested() || (schedule.exitsAfterCheckpoint() && periodicDue))) {
      logger->info("stopping after epoch {} as asked; its checkpoint is {}", state.epoch,
                   (run.runDir() / "last.pt").string());
      return interrupted();
    }
    startNextEpoch(state);
  }
  return result;
}

}  // namespace tautrain::train
