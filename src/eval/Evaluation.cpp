#include "tautrain/eval/Evaluation.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "tautrain/core/Log.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::eval {

namespace fs = std::filesystem;

namespace {

struct Selection {
  std::string name;
  std::vector<std::uint8_t> selected;
};

std::vector<Selection> selections(const ScoreTable& s, const EvalConfig& config) {
  Selection window{"window", std::vector<std::uint8_t>(s.size())};
  for (std::size_t i = 0; i < s.size(); ++i)
    window.selected[i] = s.pt[i] >= config.pt_min && s.pt[i] <= config.pt_max &&
                         (config.abs_eta_max <= 0 || std::abs(s.eta[i]) <= config.abs_eta_max);
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
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failureMutex;
  const auto work = [&] {
    for (std::size_t t; (t = next++) < tasks;) {
      try {
        results[t] = evaluateOne(scores, config, chosen[t / kBackgrounds.size()], t % kBackgrounds.size());
      } catch (...) {
        std::lock_guard lock(failureMutex);
        failure = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads(std::min<std::size_t>(tasks, std::max(1u, std::thread::hardware_concurrency())));
  for (auto& thread : threads) thread = std::thread(work);
  for (auto& thread : threads) thread.join();
  if (failure) std::rethrow_exception(failure);
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

bool plotRocCurves(const std::string& directory, const std::vector<DiscriminantResult>& results) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    log::get("eval")->warn("gnuplot not found: no plots, the tables are written anyway");
    return false;
  }
  const fs::path dir = fs::path(directory) / "plots";
  fs::create_directories(dir);
  static const std::map<std::string, std::string> background{{"D_e", "electrons"}, {"D_mu", "muons"}, {"D_jet", "jets"}};
  bool ok = true;
  for (const char* discriminant : kDiscriminantNames) {
    std::string data, knees, titles, arrows;
    int blocks = 0;
    for (const auto& r : results) {
      if (r.selection != "window" || r.discriminant != discriminant) continue;
      for (const auto& p : r.curve)
        if (p.fpr > 0) data += fmt::format("{:.8g} {:.8g}\n", p.tpr, p.fpr);
      data += "\n\n";
      knees += fmt::format("{:.8g} {:.8g}\n\n\n", r.knee.tpr, r.knee.fpr);
      titles += (titles.empty() ? "" : " ") + r.model;  // gnuplot's word() splits on spaces
      if (blocks++ == 0)
        for (const auto& [name, p] : r.working_points)
          arrows += fmt::format("set arrow from {0:g}, graph 0 to {0:g}, graph 1 nohead dt 2 lc rgb '#999999'\n", p.tpr);
    }
    if (blocks == 0) continue;
    const auto stem = (dir / (std::string("roc-") + discriminant)).string();
    io::writeFileAtomic(stem + ".dat", data);
    io::writeFileAtomic(stem + "-knee.dat", knees);
    const std::string script = fmt::format(
        "titles = \"{titles}\"\n"
        "set logscale y\nset format y '10^{{%T}}'\nset xlabel 'TPR (genuine tau_h)'\nset ylabel 'FPR ({bg})'\n"
        "set title '{d}, pT window; dashed: working points, circles: knee points'\n"
        "set key top left\nset grid\nset xrange [0:1]\n{arrows}"
        "title(i) = word(titles, i)\n"
        "do for [term in 'pngcairo pdfcairo'] {{\n"
        "  if (term eq 'pngcairo') {{ set terminal pngcairo size 900,700; set output '{stem}.png' }}\n"
        "  else {{ set terminal pdfcairo size 6in,4.7in; set output '{stem}.pdf' }}\n"
        "  plot for [i=0:{last}] '{stem}.dat' index i using 1:2 with lines lw 2 lc i+1 title title(i+1) noenhanced, \\\n"
        "       for [i=0:{last}] '{stem}-knee.dat' index i using 1:2 with points pt 6 ps 2 lc i+1 notitle\n"
        "}}\n",
        fmt::arg("titles", titles),
        fmt::arg("bg", background.at(discriminant)), fmt::arg("d", std::string("D_{") + (discriminant + 2) + "}"), fmt::arg("arrows", arrows),
        fmt::arg("stem", stem), fmt::arg("last", blocks - 1));
    io::writeFileAtomic(stem + ".gp", script);
    if (std::system(fmt::format("gnuplot '{}.gp' > '{}.log' 2>&1", stem, stem).c_str()) != 0) {
      log::get("eval")->warn("gnuplot failed on {}.gp; see {}.log", stem, stem);
      ok = false;
    }
  }
  return ok;
}

}  // namespace tautrain::eval
