#include <nlohmann/json.hpp>

#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/deploy/Export.hpp"
#include "tautrain/deploy/Parity.hpp"
#include "tautrain/eval/Discriminant.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::cli {

namespace {

nlohmann::json toJson(const deploy::Difference& d) {
  return {{"max_abs", d.max_abs}, {"max_rel", d.max_rel}, {"worst_candidate", d.worst}};
}

nlohmann::json toJson(const deploy::ParityReport& r, double tolerance) {
  nlohmann::json j{{"runtime", r.runtime},        {"candidates", r.candidates}, {"extra_padding", r.extra_padding},
                   {"max_abs", r.maxAbs()},       {"tolerance", tolerance},     {"passed", r.maxAbs() <= tolerance}};
  for (int c = 0; c < 4; ++c) j["classes"][std::string("p_") + data::kClassNames[c]] = toJson(r.classes[c]);
  for (int d = 0; d < 3; ++d) {
    j["discriminants"][eval::kDiscriminantNames[d]] = toJson(r.discriminants[d]);
    j["discriminants"][eval::kDiscriminantNames[d]]["working_point_flips"] = r.flipped[d];
  }
  return j;
}

}  // namespace

void addExportCommand(CLI::App& app) {
  struct Options {
    std::string checkpoint, output, json;
    std::vector<std::string> check;
    double tolerance = 1e-5;
    bool allowTokenCap = false;
  };
  auto o = std::make_shared<Options>();
  auto* command = app.add_subcommand("export", "Write a checkpoint's model as an ONNX graph (docs/deployment.md)");
  command->add_option("checkpoint", o->checkpoint, "checkpoint (.pt)")->required()->check(CLI::ExistingFile);
  command->add_option("-o,--output", o->output, "the ONNX file to write")->required();
  command->add_option("--check", o->check,
                      "shards (files, directories, globs) to score with LibTorch and ONNX Runtime and compare");
  command->add_option("--tolerance", o->tolerance, "largest |difference| --check accepts")->capture_default_str();
  command->add_option("--json", o->json, "write the --check report as JSON");
  command->add_flag("--allow-token-cap", o->allowTokenCap,
                    "export a model trained with data.pruning.max_tokens; the consumer applies the cap");
  command->callback([o] {
    const auto summary = deploy::exportOnnx(o->checkpoint, o->output, o->allowTokenCap);
    std::string inputs;
    for (const auto& name : summary.signature.inputs) inputs += (inputs.empty() ? "" : ", ") + name;
    log::get("deploy")->info("wrote {} ({} nodes, {:.1f} kB, opset {}); inputs: {}; checked by libonnx", o->output,
                             summary.nodes, summary.bytes / 1e3, deploy::kOnnxOpset, inputs);
    if (o->check.empty()) return;
    const auto report = deploy::compareWithOnnxRuntime(o->checkpoint, o->output, o->check);
    std::cout << report.text();
    if (!o->json.empty()) io::writeJson(o->json, toJson(report, o->tolerance));
    if (report.maxAbs() > o->tolerance) {
      std::cerr << "tautrain: LibTorch and ONNX Runtime differ by " << report.maxAbs() << ", more than --tolerance "
                << o->tolerance << "\n";
      throw ExitRequest{1};
    }
    std::cout << "parity: max |difference| " << report.maxAbs() << " <= " << o->tolerance << "\n";
  });
}

}  // namespace tautrain::cli
