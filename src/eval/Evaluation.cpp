#include "tautrain/eval/Evaluation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>

#include "tautrain/core/Log.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Parallel.hpp"
#include "tautrain/core/Random.hpp"
#include "tautrain/io/Gnuplot.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::eval {

namespace fs = std::filesystem;

namespace {

bool inEtaWindow(const ScoreTable& s, std::size_t i, const EvalConfig& config) {
  return config.abs_eta_max <= 0 || std::abs(s.eta[i]) <= config.abs_eta_max;
}
bool inPtWindow(const ScoreTable& s, std::size_t i, const EvalConfig& config) {
  return s.pt[i] >= config.pt_min && s.pt[i] <= config.pt_max;
}

}  // namespace

std::vector<std::uint8_t> windowSelection(const ScoreTable& s, const EvalConfig& config) {
  std::vector<std::uint8_t> selected(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) selected[i] = inPtWindow(s, i, config) && inEtaWindow(s, i, config);
  return selected;
}

namespace {

struct Selection {
  std::string name;
  std::vector<std::uint8_t> selected;
};

/// The bin of `value` among `edges` ([edges[b], edges[b + 1])), or -1.
int binOf(const std::vector<double>& edges, double value) {
  if (edges.size() < 2 || value < edges.front() || value >= edges.back()) return -1;
  return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), value) - edges.begin()) - 1;
}

std::vector<Selection> selections(const ScoreTable& s, const EvalConfig& config) {
  const Selection window{"window", windowSelection(s, config)};
  std::vector<Selection> all{window};
  for (const auto mode : config.decay_modes) {
    Selection dm{fmt::format("DM{}", mode), window.selected};
    for (std::size_t i = 0; i < s.size(); ++i) dm.selected[i] &= s.label[i] != 2 || s.decay_mode[i] == mode;
    all.push_back(std::move(dm));
  }
  const auto binned = [&](const char* prefix, const std::vector<double>& edges, auto inBin) {
    for (std::size_t b = 0; b + 1 < edges.size(); ++b) {
      Selection bin{fmt::format("{}{:g}-{:g}", prefix, edges[b], edges[b + 1]), std::vector<std::uint8_t>(s.size())};
      for (std::size_t i = 0; i < s.size(); ++i) bin.selected[i] = inBin(i, static_cast<int>(b));
      all.push_back(std::move(bin));
    }
  };
  binned("pt", config.pt_bins, [&](std::size_t i, int b) {
    return binOf(config.pt_bins, s.pt[i]) == b && inEtaWindow(s, i, config);
  });
  binned("eta", config.abs_eta_bins, [&](std::size_t i, int b) {
    return binOf(config.abs_eta_bins, std::abs(s.eta[i])) == b && inPtWindow(s, i, config);
  });
  return all;
}

std::string fixed(double value) { return std::isfinite(value) ? fmt::format("{:.6g}", value) : "-inf"; }

nlohmann::json intervalJson(const Interval& interval) { return {interval.low, interval.high}; }

/// (working point, threshold) with the tightest cut first, the order of the WP table.
std::vector<std::pair<std::string, double>> tightestFirst(const std::map<std::string, double>& cuts) {
  std::vector<std::pair<std::string, double>> ordered(cuts.begin(), cuts.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return ordered;
}

/// FNV-1a: a selection's bootstrap stream, the same on every platform.
std::uint64_t nameHash(const std::string& name) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

/// Discriminant d's taus and background of every row, sorted once for all selections.
SortedScores sortedDiscriminant(const ScoreTable& scores, std::size_t d) {
  const auto in = discriminantInput(scores.probabilities, scores.label, kBackgrounds[d], scores.weight);
  return SortedScores(in.score, in.signal, in.weight, in.rows);
}

DiscriminantResult evaluateOne(const ScoreTable& scores, const EvalConfig& config, const Selection& selection,
                               std::size_t d, const SortedScores& sorted,
                               const std::map<std::string, std::map<std::string, double>>* fixed) {
  const auto curve = sorted.curve(selection.selected);
  DiscriminantResult r;
  r.model = scores.model, r.selection = selection.name, r.discriminant = kDiscriminantNames[d];
  r.signal = curve.signal, r.background = curve.background;
  r.auc = rocAuc(curve);
  r.knee = kneePoint(curve);
  std::vector<double> targets;
  for (const auto& wp : kWorkingPoints)
    if (wp.tpr[d] > 0) r.working_points.emplace_back(wp.name, pointAtTpr(curve, wp.tpr[d])), targets.push_back(wp.tpr[d]);
  for (double t : config.extra_tpr)
    r.working_points.emplace_back(fmt::format("TPR={:g}", t), pointAtTpr(curve, t)), targets.push_back(t);
  r.curve = thinnedRoc(curve, targets);
  if (config.bootstrap > 0) {  // seeded per selection and discriminant: the same for any thread count
    const auto in =
        discriminantInput(scores.probabilities, scores.label, kBackgrounds[d], scores.weight, selection.selected);
    r.bootstrap = bootstrapAucAndKnee(in.score, in.signal, in.weight, config.bootstrap,
                                      streamSeed(config.bootstrap_seed, nameHash(selection.name), d));
  }
  if (fixed)
    if (const auto cuts = fixed->find(r.discriminant); cuts != fixed->end())
      for (const auto& [name, threshold] : tightestFirst(cuts->second))
        r.fixed_points.emplace_back(name, pointAtThreshold(curve, threshold));
  return r;
}

}  // namespace

std::vector<DiscriminantResult> evaluate(const ScoreTable& scores, const EvalConfig& config, const Thresholds* fixed) {
  const auto* cuts = fixed ? &thresholdsOf(*fixed, scores.model) : nullptr;
  const auto chosen = selections(scores, config);
  TAUTRAIN_CHECK(scores.size() < (std::size_t{1} << 32), DataError, scores.model, ": ", scores.size(),
                 " candidates; one score file holds at most 2^32");
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // One sort per discriminant; each selection's ROC is then one pass over it.
  std::vector<std::optional<SortedScores>> sorted(kBackgrounds.size());
  parallelFor(sorted.size(), threads, [&](std::size_t d) { sorted[d].emplace(sortedDiscriminant(scores, d)); });
  const std::size_t tasks = chosen.size() * kBackgrounds.size();
  std::vector<DiscriminantResult> results(tasks);
  parallelFor(tasks, threads, [&](std::size_t t) {
    const auto d = t % kBackgrounds.size();
    results[t] = evaluateOne(scores, config, chosen[t / kBackgrounds.size()], d, *sorted[d], cuts);
  });
  return results;
}

Thresholds workingPointThresholds(const std::vector<DiscriminantResult>& results, const std::string& source) {
  Thresholds thresholds;
  thresholds.source = source;
  for (const auto& r : results)
    if (r.selection == "window")
      for (const auto& [name, point] : r.working_points)
        if (std::isfinite(point.threshold)) thresholds.by_model[r.model][r.discriminant][name] = point.threshold;
  return thresholds;
}

void writeThresholds(const std::string& path, const Thresholds& thresholds) {
  // Thresholds are float scores: JSON doubles carry them exactly, so a cut applied to the
  // sample it came from reproduces its working point.
  io::writeJson(path, {{"format", "tautrain-thresholds"}, {"version", 1}, {"source", thresholds.source},
                       {"selection", "window"}, {"cut", "discriminant >= threshold"}, {"models", thresholds.by_model}});
}

Thresholds readThresholds(const std::string& path) {
  const auto json = io::readJson(path);
  TAUTRAIN_CHECK(json.is_object() && json.value("format", "") == "tautrain-thresholds" && json.contains("models") &&
                     json["models"].is_object(),
                 DataError, path, ": not a tautrain thresholds file (tautrain wp derive writes them)");
  Thresholds thresholds;
  thresholds.source = json.value("source", "");
  for (const auto& [model, discriminants] : json["models"].items())
    for (const auto& [discriminant, points] : discriminants.items()) {
      TAUTRAIN_CHECK(std::find(std::begin(kDiscriminantNames), std::end(kDiscriminantNames), discriminant) !=
                         std::end(kDiscriminantNames),
                     DataError, path, ": models.", model, ": unknown discriminant '", discriminant, "'");
      for (const auto& [wp, threshold] : points.items()) {
        TAUTRAIN_CHECK(threshold.is_number(), DataError, path, ": models.", model, ".", discriminant, ".", wp,
                       ": the threshold is not a number");
        thresholds.by_model[model][discriminant][wp] = threshold.get<double>();
      }
    }
  return thresholds;
}

const std::map<std::string, std::map<std::string, double>>& thresholdsOf(const Thresholds& thresholds,
                                                                         const std::string& model) {
  const auto found = thresholds.by_model.find(model);
  if (found != thresholds.by_model.end()) return found->second;
  std::string known;
  for (const auto& [name, cuts] : thresholds.by_model) known += (known.empty() ? "" : ", ") + name;
  throw ConfigError("--thresholds", "no thresholds for model '" + model + "' (derived from " + thresholds.source +
                                        "; it has " + (known.empty() ? "none" : known) + ")");
}

std::vector<BinnedRate> ratesVersusVariables(const ScoreTable& s, const EvalConfig& config,
                                             const std::map<std::string, std::map<std::string, double>>& thresholds) {
  std::vector<BinnedRate> rates;
  std::vector<double> modes(config.decay_modes.begin(), config.decay_modes.end());
  for (std::size_t d = 0; d < kBackgrounds.size(); ++d) {
    const auto cuts = thresholds.find(kDiscriminantNames[d]);
    if (cuts == thresholds.end()) continue;
    std::vector<std::string> names;
    std::vector<double> cutValues;
    for (const auto& [wp, threshold] : tightestFirst(cuts->second)) names.push_back(wp), cutValues.push_back(threshold);
    struct Variable {
      const char* name;
      std::vector<double> bins;  ///< edges, or the decay modes
    };
    for (const Variable& variable : {Variable{"pt", config.pt_bins}, Variable{"abs_eta", config.abs_eta_bins},
                                     Variable{"decay_mode", modes}}) {
      const bool byMode = std::string(variable.name) == "decay_mode";
      const std::size_t bins = byMode ? modes.size() : variable.bins.size() > 1 ? variable.bins.size() - 1 : 0;
      // Per bin and class (background 0, tau 1): weights and their squares, and per working
      // point the weight that passes its cut. Fixed cuts need counting, not a sorted ROC.
      struct Tally {
        double weights = 0, squares = 0;
        std::vector<double> passed;
      };
      std::vector<std::array<Tally, 2>> tallies(bins);
      for (auto& bin : tallies)
        for (auto& tally : bin) tally.passed.assign(cutValues.size(), 0.0);
      for (std::size_t i = 0; i < s.size(); ++i) {
        const bool signal = s.label[i] == 2;
        if (!signal && s.label[i] != kBackgrounds[d]) continue;
        int bin = -1;
        if (byMode) {
          if (!signal || !inPtWindow(s, i, config) || !inEtaWindow(s, i, config)) continue;
          const auto found = std::find(modes.begin(), modes.end(), static_cast<double>(s.decay_mode[i]));
          bin = found == modes.end() ? -1 : static_cast<int>(found - modes.begin());
        } else if (variable.name[0] == 'p') {
          bin = inEtaWindow(s, i, config) ? binOf(variable.bins, s.pt[i]) : -1;
        } else {
          bin = inPtWindow(s, i, config) ? binOf(variable.bins, std::abs(s.eta[i])) : -1;
        }
        if (bin < 0) continue;
        const float score = discriminantScore(s.probabilities, i, kBackgrounds[d]);
        const double w = s.weight.empty() ? 1.0 : s.weight[i];
        auto& tally = tallies[static_cast<std::size_t>(bin)][signal];
        tally.weights += w, tally.squares += w * w;
        for (std::size_t c = 0; c < cutValues.size(); ++c)
          if (score >= cutValues[c]) tally.passed[c] += w;
      }
      for (std::size_t b = 0; b < bins; ++b) {
        const auto& [background, taus] = tallies[b];
        for (std::size_t c = 0; c < cutValues.size(); ++c) {
          BinnedRate rate{s.model, kDiscriminantNames[d], names[c], variable.name, byMode ? modes[b] : variable.bins[b],
                          byMode ? modes[b] : variable.bins[b + 1], cutValues[c], {}, taus.weights, background.weights};
          rate.rates.threshold = cutValues[c];
          rate.rates.tpr = taus.weights > 0 ? taus.passed[c] / taus.weights : 0;
          rate.rates.tpr_interval = rateInterval(rate.rates.tpr, taus.weights, taus.squares);
          if (byMode) {
            rate.rates.fpr = NAN, rate.rates.fpr_interval = {NAN, NAN};
          } else {
            rate.rates.fpr = background.weights > 0 ? background.passed[c] / background.weights : 0;
            rate.rates.fpr_interval = rateInterval(rate.rates.fpr, background.weights, background.squares);
          }
          rates.push_back(std::move(rate));
        }
      }
    }
  }
  return rates;
}

void writeEvaluation(const std::string& directory, const std::vector<DiscriminantResult>& results,
                     const std::vector<BinnedRate>& binned) {
  fs::create_directories(directory);
  const fs::path dir(directory);
  // Intervals (68 %, docs/evaluation.md) follow each table's original columns.
  std::string wpCsv = "model,selection,discriminant,wp,target_tpr,fpr,threshold,signal,background,fpr_low,fpr_high\n";
  std::string kneeCsv = "model,selection,discriminant,auc,knee_tpr,knee_fpr,knee_threshold,signal,background,"
                        "knee_tpr_low,knee_tpr_high,knee_fpr_low,knee_fpr_high,auc_low,auc_high\n";
  std::string rocCsv = "model,selection,discriminant,tpr,fpr,threshold,tpr_low,tpr_high,fpr_low,fpr_high\n";
  nlohmann::json json = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json wps = nlohmann::json::array();
    for (const auto& [name, p] : r.working_points) {
      wpCsv += fmt::format("{},{},{},{},{:g},{:.6g},{},{:g},{:g},{:.6g},{:.6g}\n", r.model, r.selection, r.discriminant,
                           name, p.tpr, p.fpr, fixed(p.threshold), r.signal, r.background, p.fpr_interval.low,
                           p.fpr_interval.high);
      wps.push_back({{"wp", name}, {"target_tpr", p.tpr}, {"fpr", p.fpr}, {"fpr_interval", intervalJson(p.fpr_interval)},
                     {"threshold", std::isfinite(p.threshold) ? nlohmann::json(p.threshold) : nlohmann::json()}});
    }
    const bool boot = r.bootstrap.replicates > 0;  // the AUC's interval needs the bootstrap
    kneeCsv += fmt::format("{},{},{},{:.6f},{:.6g},{:.6g},{},{:g},{:g},{:.6g},{:.6g},{:.6g},{:.6g},{},{}\n", r.model,
                           r.selection, r.discriminant, r.auc, r.knee.tpr, r.knee.fpr, fixed(r.knee.threshold), r.signal,
                           r.background, r.knee.tpr_interval.low, r.knee.tpr_interval.high, r.knee.fpr_interval.low,
                           r.knee.fpr_interval.high, boot ? fmt::format("{:.6f}", r.bootstrap.auc.low) : "",
                           boot ? fmt::format("{:.6f}", r.bootstrap.auc.high) : "");
    for (const auto& p : r.curve)
      rocCsv += fmt::format("{},{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}\n", r.model, r.selection,
                            r.discriminant, p.tpr, p.fpr, p.threshold, p.tpr_interval.low, p.tpr_interval.high,
                            p.fpr_interval.low, p.fpr_interval.high);
    json.push_back({{"model", r.model}, {"selection", r.selection}, {"discriminant", r.discriminant},
                    {"signal", r.signal}, {"background", r.background}, {"auc", r.auc},
                    {"knee", {{"tpr", r.knee.tpr}, {"fpr", r.knee.fpr}, {"threshold", r.knee.threshold},
                              {"tpr_interval", intervalJson(r.knee.tpr_interval)},
                              {"fpr_interval", intervalJson(r.knee.fpr_interval)}}},
                    {"working_points", wps},
                    {"bootstrap", boot ? nlohmann::json{{"replicates", r.bootstrap.replicates},
                                                        {"auc", intervalJson(r.bootstrap.auc)},
                                                        {"knee_tpr", intervalJson(r.bootstrap.knee_tpr)},
                                                        {"knee_fpr", intervalJson(r.bootstrap.knee_fpr)}}
                                       : nlohmann::json()}});
  }
  io::writeFileAtomic((dir / "wp.csv").string(), wpCsv);
  io::writeFileAtomic((dir / "knee.csv").string(), kneeCsv);
  io::writeFileAtomic((dir / "roc.csv").string(), rocCsv);
  io::writeJson((dir / "evaluation.json").string(), json);
  std::string fixedCsv;
  for (const auto& r : results)
    for (const auto& [name, p] : r.fixed_points)
      fixedCsv += fmt::format("{},{},{},{},{:.9g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:g},{:g}\n", r.model,
                              r.selection, r.discriminant, name, p.threshold, p.tpr, p.tpr_interval.low,
                              p.tpr_interval.high, p.fpr, p.fpr_interval.low, p.fpr_interval.high, r.signal, r.background);
  if (!fixedCsv.empty())
    io::writeFileAtomic((dir / "wp-fixed.csv").string(),
                        "model,selection,discriminant,wp,threshold,tpr,tpr_low,tpr_high,fpr,fpr_low,fpr_high,signal,"
                        "background\n" + fixedCsv);
  if (!binned.empty()) {
    std::string csv = "model,discriminant,wp,variable,low,high,threshold,tpr,tpr_low,tpr_high,fpr,fpr_low,fpr_high,"
                      "signal,background\n";
    for (const auto& b : binned)
      csv += fmt::format("{},{},{},{},{:g},{:g},{:.9g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:g},{:g}\n", b.model,
                         b.discriminant, b.wp, b.variable, b.low, b.high, b.threshold, b.rates.tpr,
                         b.rates.tpr_interval.low, b.rates.tpr_interval.high, b.rates.fpr, b.rates.fpr_interval.low,
                         b.rates.fpr_interval.high, b.signal, b.background);
    io::writeFileAtomic((dir / "efficiency.csv").string(), csv);
  }

  // Markdown: per selection, one row per discriminant and WP, one FPR column per model.
  std::vector<std::string> models, selectionNames;
  std::map<std::tuple<std::string, std::string, std::string>, const DiscriminantResult*> byKey;
  for (const auto& r : results) {
    if (std::find(models.begin(), models.end(), r.model) == models.end()) models.push_back(r.model);
    if (std::find(selectionNames.begin(), selectionNames.end(), r.selection) == selectionNames.end())
      selectionNames.push_back(r.selection);
    byKey[{r.selection, r.discriminant, r.model}] = &r;
  }
  std::string md = "# Evaluation\n\nFPR at each working point's target TPR (interpolated along the exact ROC), the "
                   "knee point (largest TPR - FPR) and the AUC.\n";
  for (const auto& selection : selectionNames) {
    md += fmt::format("\n## {}\n\n| discriminant | WP | target TPR |", selection);
    for (const auto& m : models) md += " " + m + " |";
    md += "\n|---|---|---|" + std::string(models.size() * 4, ' ');
    md.resize(md.size() - models.size() * 4);
    for (std::size_t k = 0; k < models.size(); ++k) md += "---|";
    md += "\n";
    for (const char* discriminant : kDiscriminantNames) {
      const auto* first = byKey[{selection, discriminant, models.front()}];
      if (!first) continue;
      for (std::size_t w = 0; w < first->working_points.size(); ++w) {
        md += fmt::format("| {} | {} | {:g} |", discriminant, first->working_points[w].first,
                          first->working_points[w].second.tpr);
        for (const auto& m : models) {
          const auto* r = byKey[{selection, discriminant, m}];
          md += r ? fmt::format(" {:.4g} |", r->working_points[w].second.fpr) : " |";
        }
        md += "\n";
      }
      for (const char* row : {"AUC", "knee TPR", "knee FPR"}) {
        md += fmt::format("| {} | {} | |", discriminant, row);
        for (const auto& m : models) {
          const auto* r = byKey[{selection, discriminant, m}];
          const double value = !r ? NAN : row[0] == 'A' ? r->auc : row[5] == 'T' ? r->knee.tpr : r->knee.fpr;
          md += r ? fmt::format(" {:.4g} |", value) : " |";
        }
        md += "\n";
      }
    }
  }
  io::writeFileAtomic((dir / "evaluation.md").string(), md);
}

void requireModel(const std::vector<std::string>& models, const std::string& reference) {
  if (reference.empty() || std::find(models.begin(), models.end(), reference) != models.end()) return;
  std::string known;
  for (const auto& m : models) known += (known.empty() ? "" : ", ") + m;
  throw ConfigError("--reference", "no model named '" + reference + "'; the models are " + known);
}

std::vector<DiscriminantResult> evaluateAndWrite(const std::string& directory, const std::vector<ScoreTable>& tables,
                                                 const EvalConfig& config, bool plots, const std::string& reference,
                                                 const Thresholds* fixed) {
  std::vector<std::string> models;
  for (const auto& table : tables) models.push_back(table.model);
  requireModel(models, reference);
  if (fixed)  // every model needs its thresholds: refuse before the work
    for (const auto& model : models) thresholdsOf(*fixed, model);
  std::vector<DiscriminantResult> all;
  std::vector<BinnedRate> allRates;
  for (const auto& table : tables) {
    auto results = evaluate(table, config, fixed);
    auto own = workingPointThresholds(results, table.model);
    const auto rates =
        ratesVersusVariables(table, config, fixed ? thresholdsOf(*fixed, table.model) : own.by_model[table.model]);
    writeEvaluation((fs::path(directory) / table.model).string(), results, rates);
    all.insert(all.end(), results.begin(), results.end());
    allRates.insert(allRates.end(), rates.begin(), rates.end());
  }
  writeEvaluation(directory, all, allRates);
  if (plots) {
    plotRocCurves(directory, all, reference);
    plotRatesVersusVariables(directory, allRates);
    for (const auto& table : tables) plotScoreDistributions(directory, table, config);
  }
  return all;
}

namespace {

/// FPR and its interval at `tpr` by linear interpolation along a thinned curve (plots only).
RocPoint interpolateFpr(const std::vector<RocPoint>& curve, double tpr) {
  const auto upper = std::lower_bound(curve.begin(), curve.end(), tpr,
                                      [](const RocPoint& p, double t) { return p.tpr < t; });
  if (upper == curve.end()) return curve.empty() ? RocPoint{} : curve.back();
  if (upper == curve.begin() || upper->tpr == tpr) return *upper;
  const auto lower = upper - 1;
  const double f = (tpr - lower->tpr) / (upper->tpr - lower->tpr);
  const auto mix = [f](double a, double b) { return a + f * (b - a); };
  RocPoint p;
  p.tpr = tpr;
  p.fpr = mix(lower->fpr, upper->fpr);
  p.fpr_interval = {mix(lower->fpr_interval.low, upper->fpr_interval.low),
                    mix(lower->fpr_interval.high, upper->fpr_interval.high)};
  return p;
}

/// Relative half-width of a point's FPR interval.
double relativeError(const RocPoint& p) { return p.fpr > 0 ? 0.5 * (p.fpr_interval.high - p.fpr_interval.low) / p.fpr : 0; }

const std::map<std::string, std::string>& backgroundNames() {
  static const std::map<std::string, std::string> names{{"D_e", "electrons"}, {"D_mu", "muons"}, {"D_jet", "jets"}};
  return names;
}

}  // namespace

bool plotRocCurves(const std::string& directory, const std::vector<DiscriminantResult>& results,
                   const std::string& reference) {
  const fs::path dir = fs::path(directory) / "plots";
  fs::create_directories(dir);
  bool ok = true;
  for (const char* discriminant : kDiscriminantNames) {
    std::vector<const DiscriminantResult*> shown;
    const DiscriminantResult* ref = nullptr;
    for (const auto& r : results)
      if (r.selection == "window" && r.discriminant == discriminant) {
        shown.push_back(&r);
        if (r.model == reference) ref = &r;
      }
    if (shown.empty()) continue;
    TAUTRAIN_CHECK_KEY(reference.empty() || ref, "--reference", "no model named '", reference, "'");
    std::string data, knees, ratios, titles, arrows;
    for (const auto* r : shown) {
      for (const auto& p : r->curve)
        if (p.fpr > 0) data += fmt::format("{:.8g} {:.8g} {:.8g} {:.8g}\n", p.tpr, p.fpr, p.fpr_interval.low, p.fpr_interval.high);
      data += "\n\n";
      knees += fmt::format("{:.8g} {:.8g}\n\n\n", r->knee.tpr, r->knee.fpr);
      titles += (titles.empty() ? "" : " ") + r->model;  // gnuplot's word() splits on spaces
      if (ref) {
        // Both models' intervals, added in quadrature (independent test samples; the same
        // sample makes this an overestimate).
        for (double tpr = 0.2; tpr <= 1.0; tpr += 0.004) {
          const auto base = interpolateFpr(ref->curve, tpr), model = interpolateFpr(r->curve, tpr);
          if (base.fpr <= 0) continue;
          const double ratio = model.fpr / base.fpr, error = std::hypot(relativeError(model), relativeError(base));
          ratios += fmt::format("{:.6g} {:.6g} {:.6g} {:.6g}\n", tpr, ratio, ratio * (1 - error), ratio * (1 + error));
        }
        ratios += "\n\n";
      }
    }
    for (const auto& [name, p] : shown.front()->working_points)
      arrows += fmt::format("set arrow from {0:g}, graph 0 to {0:g}, graph 1 nohead dt 2 lc rgb '#999999'\n", p.tpr);
    const auto stem = (dir / (std::string("roc-") + discriminant)).string();
    io::writeFileAtomic(stem + ".dat", data);
    io::writeFileAtomic(stem + "-knee.dat", knees);
    if (ref) io::writeFileAtomic(stem + "-ratio.dat", ratios);
    const auto curves = fmt::format(
        "plot for [i=0:{last}] '{stem}.dat' index i using 1:3:4 with filledcurves fs transparent solid 0.25 lc i+1 "
        "notitle, \\\n"
        "       for [i=0:{last}] '{stem}.dat' index i using 1:2 with lines lw 2 lc i+1 title title(i+1) noenhanced, \\\n"
        "       for [i=0:{last}] '{stem}-knee.dat' index i using 1:2 with points pt 6 ps 2 lc i+1 notitle\n",
        fmt::arg("stem", stem), fmt::arg("last", shown.size() - 1));
    const auto panels =
        ref ? fmt::format("  set multiplot\n  set origin 0,0.3; set size 1,0.7; set bmargin 0; set format x ''; unset xlabel\n"
                          "  {curves}"
                          "  set origin 0,0; set size 1,0.3; set tmargin 1; set bmargin 3.5; set format x '%g'\n"
                          "  set xlabel 'TPR (genuine tau_h)'; unset logscale y; set format y '%g'; unset title\n"
                          "  set ylabel 'FPR / {ref}' noenhanced; set autoscale y; set offsets 0, 0, graph 0.15, 0\n"
                          "  plot for [i=0:{last}] '{stem}-ratio.dat' index i using 1:3:4 with filledcurves "
                          "fs transparent solid 0.25 lc i+1 notitle, \\\n"
                          "       for [i=0:{last}] '{stem}-ratio.dat' index i using 1:2 with lines lw 2 lc i+1 notitle\n"
                          "  unset multiplot; unset offsets; set tmargin; set bmargin; set logscale y; set format y '10^{{%T}}'\n"
                          "  set ylabel 'FPR ({bg})'\n",
                          fmt::arg("curves", curves), fmt::arg("ref", reference), fmt::arg("stem", stem),
                          fmt::arg("last", shown.size() - 1), fmt::arg("bg", backgroundNames().at(discriminant)))
            : "  " + curves;
    ok &= io::runGnuplot(
        stem, fmt::format("titles = \"{titles}\"\ntitle(i) = word(titles, i)\n"
                          "set logscale y\nset format y '10^{{%T}}'\nset xlabel 'TPR (genuine tau_h)'\n"
                          "set ylabel 'FPR ({bg})'\nset title '{d}, pT window; dashed: working points, circles: knee "
                          "points, bands: 68 % intervals'\nset key top left\nset grid\nset xrange [0:1]\n{arrows}"
                          "do for [term in 'pngcairo pdfcairo'] {{\n"
                          "  if (term eq 'pngcairo') {{ set terminal pngcairo size 900,{h}; set output '{stem}.png' }}\n"
                          "  else {{ set terminal pdfcairo size 6in,{hpdf}in; set output '{stem}.pdf' }}\n"
                          "{panels}}}\n",
                          fmt::arg("titles", titles), fmt::arg("bg", backgroundNames().at(discriminant)),
                          fmt::arg("d", std::string("D_{") + (discriminant + 2) + "}"), fmt::arg("arrows", arrows),
                          fmt::arg("stem", stem), fmt::arg("h", ref ? 900 : 700), fmt::arg("hpdf", ref ? 6 : 4.7),
                          fmt::arg("panels", panels)));
  }
  return ok;
}

bool plotRatesVersusVariables(const std::string& directory, const std::vector<BinnedRate>& rates) {
  const fs::path dir = fs::path(directory) / "plots";
  fs::create_directories(dir);
  bool ok = true;
  for (const char* discriminant : kDiscriminantNames)
    for (const std::string variable : {"pt", "abs_eta", "decay_mode"}) {
      // One data block per (model, working point), in the order they come.
      std::vector<std::pair<std::string, std::string>> curves;  // (title, rows)
      for (const auto& r : rates) {
        if (r.discriminant != discriminant || r.variable != variable) continue;
        const auto title = r.model + ":" + r.wp;
        auto curve = std::find_if(curves.begin(), curves.end(), [&](const auto& c) { return c.first == title; });
        if (curve == curves.end()) curve = curves.insert(curves.end(), {title, ""});
        const double x = variable == "decay_mode" ? r.low : 0.5 * (r.low + r.high);
        curve->second += fmt::format("{:g} {:g} {:g} {:.6g} {:.6g} {:.6g} {:.6g} {:.6g} {:.6g}\n", x, r.low, r.high,
                                     r.rates.tpr, r.rates.tpr_interval.low, r.rates.tpr_interval.high, r.rates.fpr,
                                     r.rates.fpr_interval.low, r.rates.fpr_interval.high);
      }
      if (curves.empty()) continue;
      std::string data, titles;
      for (const auto& [title, rows] : curves) data += rows + "\n\n", titles += (titles.empty() ? "" : " ") + title;
      const auto stem = (dir / fmt::format("rates-{}-{}", discriminant, variable)).string();
      io::writeFileAtomic(stem + ".dat", data);
      const std::string label = variable == "pt" ? "p_T (GeV)" : variable == "abs_eta" ? "|{/Symbol h}|" : "decay mode";
      const bool byMode = variable == "decay_mode";
      const auto plotOf = [&](int column) {
        return fmt::format("  plot for [i=0:{last}] '{stem}.dat' index i using 1:{c}:{lo}:{hi} with yerrorlines lw 2 "
                           "lc i+1 title title(i+1) noenhanced\n",
                           fmt::arg("last", curves.size() - 1), fmt::arg("stem", stem), fmt::arg("c", column),
                           fmt::arg("lo", column + 1), fmt::arg("hi", column + 2));
      };
      const std::string panels =
          byMode ? "  set ylabel 'TPR (genuine tau_h)'\n" + plotOf(4)
                 : "  set multiplot layout 2,1\n  set ylabel 'TPR (genuine tau_h)'; unset logscale y\n" + plotOf(4) +
                       fmt::format("  set ylabel 'FPR ({})'; set logscale y; set format y '10^{{%T}}'\n",
                                   backgroundNames().at(discriminant)) +
                       plotOf(7) + "  unset multiplot; set format y '%g'\n";
      ok &= io::runGnuplot(
          stem, fmt::format("titles = \"{titles}\"\ntitle(i) = word(titles, i)\nset grid\nset key outside right\n"
                            "set xlabel '{label}'\n{logx}set title '{d} working points (fixed cuts) versus {label}'\n"
                            "do for [term in 'pngcairo pdfcairo'] {{\n"
                            "  if (term eq 'pngcairo') {{ set terminal pngcairo size 1000,{h}; set output '{stem}.png' }}\n"
                            "  else {{ set terminal pdfcairo size 6.5in,{hpdf}in; set output '{stem}.pdf' }}\n"
                            "{panels}}}\n",
                            fmt::arg("titles", titles), fmt::arg("label", label),
                            fmt::arg("logx", variable == "pt" ? "set logscale x\n" : ""),
                            fmt::arg("d", std::string("D_{") + (discriminant + 2) + "}"), fmt::arg("stem", stem),
                            fmt::arg("h", byMode ? 500 : 900),
                            fmt::arg("hpdf", byMode ? 3.5 : 6), fmt::arg("panels", panels)));
    }
  return ok;
}

bool plotScoreDistributions(const std::string& directory, const ScoreTable& scores, const EvalConfig& config) {
  const auto dir = fs::path(directory) / "plots";
  fs::create_directories(dir);
  constexpr int kBins = 50;
  const auto window = windowSelection(scores, config);
  std::string data;
  for (std::size_t d = 0; d < kBackgrounds.size(); ++d) {
    const auto in = discriminantInput(scores.probabilities, scores.label, kBackgrounds[d], scores.weight, window);
    std::array<std::vector<double>, 2> histogram{std::vector<double>(kBins), std::vector<double>(kBins)};
    std::array<double, 2> total{};
    for (std::size_t i = 0; i < in.score.size(); ++i) {
      const int bin = std::clamp(static_cast<int>(in.score[i] * kBins), 0, kBins - 1);
      const double w = in.weight.empty() ? 1.0 : in.weight[i];
      histogram[in.signal[i]][bin] += w, total[in.signal[i]] += w;
    }
    for (int b = 0; b < kBins; ++b)
      data += fmt::format("{:.4f} {:.6g} {:.6g}\n", (b + 0.5) / kBins,
                          total[1] > 0 ? histogram[1][b] / total[1] : 0, total[0] > 0 ? histogram[0][b] / total[0] : 0);
    data += "\n\n";
  }
  const auto stem = (dir / ("scores-" + scores.model)).string();
  io::writeFileAtomic(stem + ".dat", data);
  std::string panels;
  for (std::size_t d = 0; d < kBackgrounds.size(); ++d)
    panels += fmt::format("  set title 'D_{{{0}}}'; plot '{1}.dat' index {2} using 1:2 with steps lw 2 title 'taus', "
                          "'' index {2} using 1:3 with steps lw 2 title '{3}'\n",
                          kDiscriminantNames[d] + 2, stem, d, backgroundNames().at(kDiscriminantNames[d]));
  return io::runGnuplot(
      stem, fmt::format("set logscale y\nset xlabel 'discriminant'\nset ylabel 'fraction per bin'\nset grid\n"
                        "set key top center\nset xrange [0:1]\n"
                        "do for [term in 'pngcairo pdfcairo'] {{\n"
                        "  if (term eq 'pngcairo') {{ set terminal pngcairo size 1500,500; set output '{0}.png' }}\n"
                        "  else {{ set terminal pdfcairo size 10in,3.4in; set output '{0}.pdf' }}\n"
                        "  set multiplot layout 1,3 title '{1}: score distributions, pT window' noenhanced\n{2}"
                        "  unset multiplot\n}}\n",
                        stem, scores.model, panels));
}

}  // namespace tautrain::eval
