#include "tautrain/eval/Evaluation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "tautrain/core/Log.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Parallel.hpp"
#include "tautrain/io/Gnuplot.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::eval {

namespace fs = std::filesystem;

std::vector<std::uint8_t> windowSelection(const ScoreTable& s, const EvalConfig& config) {
  std::vector<std::uint8_t> selected(s.size());
  for (std::size_t i = 0; i < s.size(); ++i)
    selected[i] = s.pt[i] >= config.pt_min && s.pt[i] <= config.pt_max &&
                  (config.abs_eta_max <= 0 || std::abs(s.eta[i]) <= config.abs_eta_max);
  return selected;
}

namespace {

struct Selection {
  std::string name;
  std::vector<std::uint8_t> selected;
};

std::vector<Selection> selections(const ScoreTable& s, const EvalConfig& config) {
  const Selection window{"window", windowSelection(s, config)};
  std::vector<Selection> all{window};
  for (const auto mode : config.decay_modes) {
    Selection dm{fmt::format("DM{}", mode), window.selected};
    for (std::size_t i = 0; i < s.size(); ++i) dm.selected[i] &= s.label[i] != 2 || s.decay_mode[i] == mode;
    all.push_back(std::move(dm));
  }
  return all;
}

std::string fixed(double value) { return std::isfinite(value) ? fmt::format("{:.6g}", value) : "-inf"; }

DiscriminantResult evaluateOne(const ScoreTable& scores, const EvalConfig& config, const Selection& selection,
                               std::size_t d) {
  const auto in = discriminantInput(scores.probabilities, scores.label, kBackgrounds[d], scores.weight, selection.selected);
  const auto curve = rocCurve(in.score, in.signal, in.weight);
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
  return r;
}

}  // namespace

std::vector<DiscriminantResult> evaluate(const ScoreTable& scores, const EvalConfig& config) {
  const auto chosen = selections(scores, config);
  const std::size_t tasks = chosen.size() * kBackgrounds.size();
  std::vector<DiscriminantResult> results(tasks);
  // Each ROC is an independent sort; spread them over the cores.
  parallelFor(tasks, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), [&](std::size_t t) {
    results[t] = evaluateOne(scores, config, chosen[t / kBackgrounds.size()], t % kBackgrounds.size());
  });
  return results;
}

void writeEvaluation(const std::string& directory, const std::vector<DiscriminantResult>& results) {
  fs::create_directories(directory);
  const fs::path dir(directory);
  std::string wpCsv = "model,selection,discriminant,wp,target_tpr,fpr,threshold,signal,background\n";
  std::string kneeCsv = "model,selection,discriminant,auc,knee_tpr,knee_fpr,knee_threshold,signal,background\n";
  std::string rocCsv = "model,selection,discriminant,tpr,fpr,threshold\n";
  nlohmann::json json = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json wps = nlohmann::json::array();
    for (const auto& [name, p] : r.working_points) {
      wpCsv += fmt::format("{},{},{},{},{:g},{:.6g},{},{:g},{:g}\n", r.model, r.selection, r.discriminant, name, p.tpr,
                           p.fpr, fixed(p.threshold), r.signal, r.background);
      wps.push_back({{"wp", name}, {"target_tpr", p.tpr}, {"fpr", p.fpr},
                     {"threshold", std::isfinite(p.threshold) ? nlohmann::json(p.threshold) : nlohmann::json()}});
    }
    kneeCsv += fmt::format("{},{},{},{:.6f},{:.6g},{:.6g},{},{:g},{:g}\n", r.model, r.selection, r.discriminant, r.auc,
                           r.knee.tpr, r.knee.fpr, fixed(r.knee.threshold), r.signal, r.background);
    for (const auto& p : r.curve)
      rocCsv += fmt::format("{},{},{},{:.6g},{:.6g},{:.6g}\n", r.model, r.selection, r.discriminant, p.tpr, p.fpr,
                            p.threshold);
    json.push_back({{"model", r.model}, {"selection", r.selection}, {"discriminant", r.discriminant},
                    {"signal", r.signal}, {"background", r.background}, {"auc", r.auc},
                    {"knee", {{"tpr", r.knee.tpr}, {"fpr", r.knee.fpr}, {"threshold", r.knee.threshold}}},
                    {"working_points", wps}});
  }
  io::writeFileAtomic((dir / "wp.csv").string(), wpCsv);
  io::writeFileAtomic((dir / "knee.csv").string(), kneeCsv);
  io::writeFileAtomic((dir / "roc.csv").string(), rocCsv);
  io::writeJson((dir / "evaluation.json").string(), json);

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
                                                 const EvalConfig& config, bool plots, const std::string& reference) {
  std::vector<std::string> models;
  for (const auto& table : tables) models.push_back(table.model);
  requireModel(models, reference);
  std::vector<DiscriminantResult> all;
  for (const auto& table : tables) {
    auto results = evaluate(table, config);
    writeEvaluation((fs::path(directory) / table.model).string(), results);
    all.insert(all.end(), results.begin(), results.end());
  }
  writeEvaluation(directory, all);
  if (plots) {
    plotRocCurves(directory, all, reference);
    for (const auto& table : tables) plotScoreDistributions(directory, table, config);
  }
  return all;
}

namespace {

/// FPR at `tpr` by linear interpolation along a thinned curve (plots only).
double interpolateFpr(const std::vector<RocPoint>& curve, double tpr) {
  const auto upper = std::lower_bound(curve.begin(), curve.end(), tpr,
                                      [](const RocPoint& p, double t) { return p.tpr < t; });
  if (upper == curve.end()) return curve.empty() ? 0 : curve.back().fpr;
  if (upper == curve.begin() || upper->tpr == tpr) return upper->fpr;
  const auto lower = upper - 1;
  return lower->fpr + (tpr - lower->tpr) / (upper->tpr - lower->tpr) * (upper->fpr - lower->fpr);
}

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
        if (p.fpr > 0) data += fmt::format("{:.8g} {:.8g}\n", p.tpr, p.fpr);
      data += "\n\n";
      knees += fmt::format("{:.8g} {:.8g}\n\n\n", r->knee.tpr, r->knee.fpr);
      titles += (titles.empty() ? "" : " ") + r->model;  // gnuplot's word() splits on spaces
      if (ref) {
        for (double tpr = 0.2; tpr <= 1.0; tpr += 0.004)
          if (const double base = interpolateFpr(ref->curve, tpr); base > 0)
            ratios += fmt::format("{:.6g} {:.6g}\n", tpr, interpolateFpr(r->curve, tpr) / base);
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
        "plot for [i=0:{last}] '{stem}.dat' index i using 1:2 with lines lw 2 lc i+1 title title(i+1) noenhanced, \\\n"
        "       for [i=0:{last}] '{stem}-knee.dat' index i using 1:2 with points pt 6 ps 2 lc i+1 notitle\n",
        fmt::arg("stem", stem), fmt::arg("last", shown.size() - 1));
    const auto panels =
        ref ? fmt::format("  set multiplot\n  set origin 0,0.3; set size 1,0.7; set bmargin 0; set format x ''; unset xlabel\n"
                          "  {curves}"
                          "  set origin 0,0; set size 1,0.3; set tmargin 1; set bmargin 3.5; set format x '%g'\n"
                          "  set xlabel 'TPR (genuine tau_h)'; unset logscale y; set format y '%g'; unset title\n"
                          "  set ylabel 'FPR / {ref}' noenhanced; set autoscale y; set offsets 0, 0, graph 0.15, 0\n"
                          "  plot for [i=0:{last}] '{stem}-ratio.dat' index i using 1:2 with lines lw 2 lc i+1 notitle\n"
                          "  unset multiplot; unset offsets; set tmargin; set bmargin; set logscale y; set format y '10^{{%T}}'\n"
                          "  set ylabel 'FPR ({bg})'\n",
                          fmt::arg("curves", curves), fmt::arg("ref", reference), fmt::arg("stem", stem),
                          fmt::arg("last", shown.size() - 1), fmt::arg("bg", backgroundNames().at(discriminant)))
            : "  " + curves;
    ok &= io::runGnuplot(
        stem, fmt::format("titles = \"{titles}\"\ntitle(i) = word(titles, i)\n"
                          "set logscale y\nset format y '10^{{%T}}'\nset xlabel 'TPR (genuine tau_h)'\n"
                          "set ylabel 'FPR ({bg})'\nset title '{d}, pT window; dashed: working points, circles: knee "
                          "points'\nset key top left\nset grid\nset xrange [0:1]\n{arrows}"
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
