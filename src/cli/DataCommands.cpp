#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Scaler.hpp"
#include "tautrain/data/Summary.hpp"
#include "tautrain/data/Convert.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::cli {

namespace {

struct InspectOptions {
  std::vector<std::string> files;
  std::string features = "builtin";
  std::string json;
  int threads = 2;
  bool allowNonFinite = false;
};

struct ConvertCommandOptions {
  ConfigOptions config;
  std::string from, to, output;
  std::vector<std::string> inputs;
  int threads = 0;
  bool force = false;
  io::Codec codec = io::Codec::kNone;
  int level = 0;
  int mantissaBits = 0;
};

void addConvertCommand(CLI::App& app) {
  auto* convert = app.add_subcommand(
      "convert",
      "Convert between TFRecord files of tf.train.Example and HDF5 shards (mapping: data.tfrecord), or rewrite shards "
      "with another compression (--from hdf5 --to hdf5)");
  auto options = std::make_shared<ConvertCommandOptions>();
  options->config.addTo(*convert);
  const std::vector<std::string> formats{"tfrecord", "hdf5"};
  convert->add_option("--from", options->from, "input format")->required()->check(CLI::IsMember(formats));
  convert->add_option("--to", options->to, "output format")->required()->check(CLI::IsMember(formats));
  convert->add_option("inputs", options->inputs, "input files, directories or glob patterns")->required();
  convert->add_option("-o,--out", options->output, "output directory (one output file per input)")->required();
  convert->add_option("--threads", options->threads, "files converted at once (default: data.threads)");
  convert->add_flag("--force", options->force, "overwrite existing outputs");
  auto* codec = addNamedOption(*convert, "--compression", options->codec,
                               "codec of written shards (default: generator.compression)");
  auto* level = convert->add_option("--level", options->level, "its level, 1..9 (default: generator.compression_level)")
                    ->check(CLI::Range(0, 9));
  auto* mantissa =
      convert
          ->add_option("--mantissa-bits", options->mantissaBits,
                       "lossy: round continuous features to 1..22 mantissa bits, 10 ~ fp16, 7 ~ bf16 (default: "
                       "generator.mantissa_bits; docs/data-format.md#lossy-rounding)")
          ->check(CLI::Range(0, 22));
  convert->callback([options, codec, level, mantissa] {
    TAUTRAIN_CHECK_KEY(options->from != options->to || options->from == "hdf5", "--to", "input and output format are both ",
                       options->from);
    const auto config = options->config.load();
    const auto schema = data::FeatureSchema::fromSpec(config.data.features);
    data::ConvertOptions convertOptions;
    convertOptions.output_directory = options->output;
    convertOptions.threads = options->threads > 0 ? options->threads : config.data.threads;
    convertOptions.overwrite = options->force;
    convertOptions.compression = {codec->count() > 0 ? options->codec : config.generator.compression,
                                  level->count() > 0 ? options->level : config.generator.compression_level,
                                  mantissa->count() > 0 ? options->mantissaBits : config.generator.mantissa_bits};
    const bool fromTfRecord = options->from == "tfrecord";
    const auto inputs = data::expandPaths(options->inputs, fromTfRecord ? ".tfrecord" : ".h5");
    const auto stats = fromTfRecord            ? data::tfRecordToShards(inputs, schema, config.data.tfrecord, convertOptions)
                       : options->to == "hdf5" ? data::rewriteShards(inputs, schema, convertOptions)
                                               : data::shardsToTfRecord(inputs, schema, config.data.tfrecord, convertOptions);
    log::get("convert")->info("{} files: {}{} candidates written to {}{}", stats.files,
                              stats.records > 0 ? fmt::format("{} records, ", stats.records) : "", stats.candidates,
                              options->output,
                              stats.skipped > 0 ? fmt::format(", {} corrupt records skipped", stats.skipped) : "");
  });
}

}  // namespace

void addDataCommands(CLI::App& app) {
  addConvertCommand(app);
  auto* inspect = app.add_subcommand("inspect", "Validate shards and print their statistics (classes, token counts, pT)");
  auto inspectOptions = std::make_shared<InspectOptions>();
  inspect->add_option("files", inspectOptions->files, "shard files, directories or glob patterns")->required();
  inspect->add_option("--features", inspectOptions->features, "feature schema: builtin or a YAML path");
  inspect->add_option("--json", inspectOptions->json, "also write the statistics as JSON");
  inspect->add_option("--threads", inspectOptions->threads, "shards read at once")->check(CLI::PositiveNumber);
  inspect->add_flag("--allow-non-finite", inspectOptions->allowNonFinite,
                    "report NaN/Inf feature values but exit 0 (for data.non_finite: replace)");
  inspect->callback([inspectOptions] {
    const auto schema = data::FeatureSchema::fromSpec(inspectOptions->features);
    data::ShardReadOptions readOptions;
    readOptions.non_finite = data::NonFinitePolicy::kKeep;
    const data::Dataset dataset(data::expandPaths(inspectOptions->files), schema, readOptions);
    auto summary = data::summarize(dataset);
    summary.non_finite = data::findNonFinite(dataset, inspectOptions->threads);
    std::cout << summary.toText();
    if (!inspectOptions->json.empty()) io::writeJson(inspectOptions->json, summary.toJson());
    if (summary.non_finite.empty() || inspectOptions->allowNonFinite) return;
    const auto& first = summary.non_finite.front();
    throw DataError(fmt::format("{}: candidate {}: feature {} is NaN or Inf, the first of {} such values (listed above "
                                "per file and feature); train would stop on them: fix the files, or accept them "
                                "with --allow-non-finite and data.non_finite: replace",
                                first.file, first.first_candidate, first.feature, summary.nonFiniteValues()));
  });

  auto* scaler = app.add_subcommand("fit-scaler", "Fit the standard scaler on the training shards of a config");
  auto scalerOptions = std::make_shared<RunOptions>();
  scalerOptions->config.addTo(*scaler);
  scaler->add_option("-o,--out", scalerOptions->output, "scaler JSON to write")->required();
  scaler->callback([scalerOptions] {
    const auto config = scalerOptions->config.load();
    const auto schema = data::FeatureSchema::fromSpec(config.data.features);
    const auto split = data::splitFiles(config.data);
    const data::Dataset train(split.train, schema, data::readOptions(config.data));
    auto logger = log::get("data");
    ProgressMeter progress(logger, "fit scaler", train.size());
    const auto fitted = data::StandardScaler::fit(train, config.data.threads,
                                                  [&](std::int64_t done, std::int64_t) { progress.update(done); });
    fitted.save(scalerOptions->output);
    logger->info("scaler of {} training candidates written to {}", train.size(), scalerOptions->output);
  });
}

}  // namespace tautrain::cli
