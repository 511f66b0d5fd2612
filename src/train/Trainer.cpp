#include "tautrain/train/Trainer.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/eval/Discriminant.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/model/TauTransformer.hpp"

namespace tautrain::train {

namespace fs = std::filesystem;

namespace {

/// Weighted mean cross-entropy: sum(w * ce) / sum(w).
torch::Tensor weightedLoss(const torch::Tensor& logits, const data::TensorBatch& batch) {
  const auto ce = torch::nn::functional::cross_entropy(
      logits, batch.label, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  return (ce * batch.weight).sum() / batch.weight.sum();
}

/// Saves through a temporary file and a rename: the previous file survives any failure.
template <typename Module>
void saveAtomic(const Module& module, const fs::path& path) {
  const fs::path tmp = path.string() + ".tmp";
  torch::save(module, tmp.string());
  fs::rename(tmp, path);
}

/// Validation outputs kept for the ROC curves of the best epoch.
struct ValidationScores {
  std::vector<float> probabilities, weights;
  std::vector<std::int64_t> labels;
};

/// Copies through a temporary file and a rename, like saveAtomic.
void copyAtomic(const fs::path& from, const fs::path& to) {
  const fs::path tmp = to.string() + ".tmp";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, to);
}

EpochRecord validate(model::TauTransformer& model, data::Loader& loader, const torch::Device& device,
                     ValidationScores& scores) {
  torch::NoGradGuard noGrad;
  model->eval();
  loader.startEpoch(0);
  double lossSum = 0, weightSum = 0;
  std::vector<float> probabilities, weights;
  std::vector<std::int64_t> labels;
  while (auto loaded = loader.next()) {
    const auto batch = loaded->tensors->to(device);
    const auto logits = model->forward(batch);
    lossSum += weightedLoss(logits, batch).item<double>() * batch.weight.sum().item<double>();
    weightSum += batch.weight.sum().item<double>();
    const auto p = torch::softmax(logits, 1).to(torch::kCPU).contiguous();
    probabilities.insert(probabilities.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    labels.insert(labels.end(), loaded->host.label.begin(), loaded->host.label.end());
    weights.insert(weights.end(), loaded->host.weight.begin(), loaded->host.weight.end());
  }
  EpochRecord record;
  record.valid_loss = weightSum > 0 ? lossSum / weightSum : 0;
  std::array<double, 4> correct{}, total{};
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const float* row = probabilities.data() + i * 4;
    const auto predicted = std::max_element(row, row + 4) - row;
    total[labels[i]] += 1;
    correct[labels[i]] += predicted == labels[i];
  }
  double allCorrect = 0, all = 0;
  for (int k = 0; k < 4; ++k) {
    record.class_accuracy[k] = total[k] > 0 ? correct[k] / total[k] : 0;
    allCorrect += correct[k], all += total[k];
  }
  record.valid_accuracy = all > 0 ? allCorrect / all : 0;
  const auto discriminants = eval::summarizeDiscriminants(probabilities, labels, weights);
  record.auc = discriminants.auc;
  record.medium_fpr = discriminants.medium_fpr;
  scores = {std::move(probabilities), std::move(weights), std::move(labels)};
  return record;
}

/// ROC curves of D_e, D_mu, D_jet on the validation set, thinned for plotting: a point is kept
/// when TPR moved by 0.002 or FPR by 2 % since the last kept one, so the low-FPR region
/// keeps its resolution.
void writeRocCurves(const fs::path& path, const ValidationScores& s) {
  std::string csv = "discriminant,tpr,fpr,threshold\n";
  for (std::size_t d = 0; d < eval::kBackgrounds.size(); ++d) {
    const auto curve = eval::discriminantRoc(s.probabilities, s.labels, eval::kBackgrounds[d], s.weights);
    if (curve.signal <= 0 || curve.background <= 0) continue;
    double lastTpr = -1, lastFpr = -1;
    for (std::size_t k = 1; k < curve.tp.size(); ++k) {
      const double tpr = curve.tp[k] / curve.signal, fpr = curve.fp[k] / curve.background;
      const bool end = k + 1 == curve.tp.size();
      if (!end && tpr - lastTpr < 0.002 && fpr <= lastFpr * 1.02) continue;
      csv += fmt::format("{},{:.6g},{:.6g},{:.6g}\n", eval::kDiscriminantNames[d], tpr, fpr, curve.threshold[k - 1]);
      lastTpr = tpr, lastFpr = fpr;
    }
  }
  io::writeFileAtomic(path.string(), csv);
}

void writeHistory(const fs::path& dir, const std::vector<EpochRecord>& history) {
  nlohmann::json json = nlohmann::json::array();
  std::string csv = "epoch,train_loss,valid_loss,valid_accuracy,acc_e,acc_mu,acc_tau,acc_jet,auc_D_e,auc_D_mu,auc_D_jet,"
                    "fpr_medium_D_e,fpr_medium_D_mu,fpr_medium_D_jet,learning_rate,candidates_per_s,seconds\n";
  for (const auto& r : history) {
    json.push_back({{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"valid_loss", r.valid_loss},
                    {"valid_accuracy", r.valid_accuracy}, {"class_accuracy", r.class_accuracy}, {"auc", r.auc},
                    {"medium_wp_fpr", r.medium_fpr},
                    {"learning_rate", r.learning_rate}, {"candidates_per_s", r.candidates_per_s},
                    {"seconds", r.seconds}});
    csv += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6g},{:.6g},{:.6g},{:g},"
                       "{:.1f},{:.2f}\n",
                       r.epoch, r.train_loss, r.valid_loss, r.valid_accuracy, r.class_accuracy[0],
                       r.class_accuracy[1], r.class_accuracy[2], r.class_accuracy[3], r.auc[0], r.auc[1], r.auc[2],
                       r.medium_fpr[0], r.medium_fpr[1], r.medium_fpr[2], r.learning_rate, r.candidates_per_s,
                       r.seconds);
  }
  io::writeJson((dir / "history.json").string(), json);
  io::writeFileAtomic((dir / "history.csv").string(), csv);
}

}  // namespace

TrainResult runTraining(const config::RunConfig& config) {
  auto logger = log::get("train");
  const auto& tc = config.train;
  if (tc.torch_threads > 0) torch::set_num_threads(tc.torch_threads);
  const torch::Device device(tc.device);
  TAUTRAIN_CHECK_KEY(!device.is_cuda() || torch::cuda::is_available(), "train.device", tc.device,
                     " requested but this build or machine has no CUDA");
  torch::manual_seed(config.seed);

  const fs::path runDir = config.output;
  fs::create_directories(runDir / "checkpoints");
  const auto schema = data::FeatureSchema::fromSpec(config.data.features);
  const auto split = data::splitFiles(config.data);
  TAUTRAIN_CHECK_KEY(!split.valid.empty(), "data.valid_fraction", "training needs validation files");
  const data::Dataset train(split.train, schema, data::readOptions(config.data));
  const data::Dataset valid(split.valid, schema, data::readOptions(config.data));
  logger->info("{} training candidates in {} files, {} validation candidates in {} files", train.size(),
               split.train.size(), valid.size(), split.valid.size());

  const auto scaler = config.data.scaler.empty() ? data::StandardScaler::fit(train, config.data.threads)
                                                 : data::StandardScaler::load(config.data.scaler);
  scaler.save((runDir / "scaler.json").string());

  auto loaderOptions = data::LoaderOptions::fromConfig(config.data, config.seed);
  loaderOptions.make_tensors = true;
  loaderOptions.pin_memory = device.is_cuda();
  data::Loader trainLoader(train, scaler, loaderOptions);
  data::Loader validLoader(valid, scaler, loaderOptions);

  model::TauTransformer model(schema, config.model);
  model->to(device);
  for (const auto& [block, count] : model->parameterCounts()) logger->info("  {:<16} {:>9} parameters", block, count);
  logger->info("TauTransformer: {} trainable parameters", model->parameterCount());

  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(tc.learning_rate)
                                                        .betas({tc.beta1, tc.beta2})
                                                        .eps(tc.epsilon));
  TrainResult result;
  int stalled = 0;
  std::int64_t reportedReplacements = 0;
  for (int epoch = 1; epoch <= tc.max_epochs; ++epoch) {
    model->train();
    trainLoader.startEpoch(epoch);
    std::int64_t batches = trainLoader.batchesInEpoch();
    if (tc.max_batches_per_epoch > 0) batches = std::min(batches, tc.max_batches_per_epoch);
    ProgressMeter progress(logger, fmt::format("epoch {}", epoch), batches, "steps", 10.0);
    double lossSum = 0;
    std::int64_t candidates = 0, step = 0;
    for (; step < batches; ++step) {
      auto loaded = trainLoader.next();
      if (!loaded) break;
      const auto batch = loaded->tensors->to(device);
      optimizer.zero_grad();
      const auto loss = weightedLoss(model->forward(batch), batch);
      const double value = loss.item<double>();
      TAUTRAIN_CHECK(std::isfinite(value), Error, "loss is ", value, " at epoch ", epoch, ", step ", step, " (batch ",
                     loaded->host.index, "); the last good checkpoint is kept");
      loss.backward();
      optimizer.step();
      lossSum += value;
      candidates += batch.size;
      if ((step + 1) % tc.log_every == 0) logger->info("epoch {} step {}/{} loss {:.4f}", epoch, step + 1, batches, value);
      progress.update(step + 1);
    }
    ValidationScores scores;
    EpochRecord record = validate(model, validLoader, device, scores);
    record.epoch = epoch;
    record.train_loss = step > 0 ? lossSum / step : 0;
    record.learning_rate = tc.learning_rate;
    record.seconds = progress.elapsedSeconds();
    record.candidates_per_s = record.seconds > 0 ? candidates / record.seconds : 0;
    result.history.push_back(record);
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

    const auto checkpoint = runDir / "checkpoints" / fmt::format("epoch-{:03d}.pt", epoch);
    saveAtomic(model, checkpoint);
    copyAtomic(checkpoint, runDir / "last.pt");
    if (result.best_epoch == 0 || record.valid_loss < result.best_valid_loss) {
      result.best_epoch = epoch;
      result.best_valid_loss = record.valid_loss;
      stalled = 0;
      copyAtomic(checkpoint, runDir / "best.pt");
      writeRocCurves(runDir / "roc-best.csv", scores);
    } else {
      ++stalled;
    }
    writeHistory(runDir, result.history);
    if (stalled >= tc.patience) {
      logger->info("early stopping: no better validation loss for {} epochs (best: epoch {})", stalled, result.best_epoch);
      result.early_stopped = true;
      break;
    }
  }
  return result;
}

}  // namespace tautrain::train
