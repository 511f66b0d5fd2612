#include "tautrain/data/Convert.hpp"

#include <filesystem>
#include <limits>
#include <mutex>
#include <set>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Parallel.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/ExampleCodec.hpp"
#include "tautrain/data/Shard.hpp"
#include "tautrain/io/TfRecord.hpp"

namespace tautrain::data {

namespace fs = std::filesystem;

namespace {

/// Empties a block but keeps its memory: fresh pages cost more than the decoding.
void clearKeepingCapacity(CandidateBlock& block) {
  block.label.clear(), block.pt.clear(), block.eta.clear(), block.decay_mode.clear(), block.weight.clear();
  for (auto& m : block.collections) m.values.clear(), m.offsets.assign(1, 0);
}

/// Output path for `input` in the output directory with a new extension; refuses clashes.
std::vector<std::string> outputPaths(const std::vector<std::string>& inputs, const ConvertOptions& options,
                                     const std::string& extension) {
  TAUTRAIN_CHECK(!options.output_directory.empty(), Error, "no output directory given");
  fs::create_directories(options.output_directory);
  std::vector<std::string> outputs;
  std::set<std::string> seen;
  for (const auto& input : inputs) {
    const auto out = (fs::path(options.output_directory) / fs::path(input).stem()).string() + extension;
    TAUTRAIN_CHECK(seen.insert(out).second, DataError, input, ": another input also converts to ", out,
                   "; convert files with the same name into different directories");
    TAUTRAIN_CHECK(options.overwrite || !fs::exists(out), DataError, out, ": exists already (overwrite it with --force)");
    outputs.push_back(out);
  }
  return outputs;
}

/// Runs convertOne(i) for every file on `threads` threads and adds up what they did.
template <class Fn>
ConvertStats forEachFile(std::size_t files, int threads, const char* what, Fn convertOne) {
  ConvertStats total;
  total.files = static_cast<std::int64_t>(files);
  std::mutex mutex;
  ProgressMeter progress(log::get("convert"), what, static_cast<std::int64_t>(files), "files");
  std::int64_t done = 0;
  parallelFor(files, threads, [&](std::size_t i) {
    const auto stats = convertOne(i);
    std::lock_guard lock(mutex);
    total.records += stats.records, total.candidates += stats.candidates, total.skipped += stats.skipped;
    progress.update(++done);
  });
  return total;
}

}  // namespace

ConvertStats tfRecordToShards(const std::vector<std::string>& inputs, const FeatureSchema& schema,
                              const TfRecordConfig& mapping, const ConvertOptions& options) {
  const ExampleCodec codec(schema, mapping);
  const auto outputs = outputPaths(inputs, options, ".h5");
  constexpr std::int64_t kCandidatesPerAppend = 8192;
  return forEachFile(inputs.size(), options.threads, "tfrecord -> hdf5", [&](std::size_t i) {
    ConvertStats stats;
    io::TfRecordReader reader(inputs[i], {mapping.skip_corrupt});
    ShardWriterOptions writerOptions;
    writerOptions.compression = options.compression;
    writerOptions.producer = "tautrain convert from " + fs::path(inputs[i]).filename().string();
    std::unique_ptr<ShardWriter> writer;
    auto block = codec.emptyBlock();
    std::string payload;
    io::TfExample example;
    bool withWeight = false;
    while (reader.next(payload)) {
      const auto where = inputs[i] + ": record " + std::to_string(reader.index());
      if (!io::parseExample(payload, example)) {
        TAUTRAIN_CHECK(mapping.skip_corrupt, DataError, where, ": not a tf.train.Example");
        ++stats.skipped;
        continue;
      }
      if (!writer) {
        withWeight = codec.hasWeight(example);
        writerOptions.with_weight = withWeight;
        writer = std::make_unique<ShardWriter>(outputs[i], schema, writerOptions);
      }
      stats.candidates += codec.decode(example, withWeight, block, where);
      ++stats.records;
      if (block.size() >= kCandidatesPerAppend) {
        writer->append(block);
        clearKeepingCapacity(block);
      }
    }
    if (!writer) writer = std::make_unique<ShardWriter>(outputs[i], schema, writerOptions);
    if (block.size() > 0) writer->append(block);
    writer->close();
    stats.skipped += reader.skipped();
    if (stats.skipped > 0)
      log::get("convert")->warn("{}: skipped {} corrupt records (data.tfrecord.skip_corrupt)", inputs[i], stats.skipped);
    return stats;
  });
}

ConvertStats rewriteShards(const std::vector<std::string>& inputs, const FeatureSchema& schema,
                           const ConvertOptions& options) {
  const auto outputs = outputPaths(inputs, options, ".h5");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    TAUTRAIN_CHECK(fs::weakly_canonical(inputs[i]) != fs::weakly_canonical(outputs[i]), DataError, inputs[i],
                   ": the output would overwrite the input; write to another directory");
  constexpr std::int64_t kCandidatesPerAppend = 8192;
  return forEachFile(inputs.size(), options.threads, "hdf5 -> hdf5", [&](std::size_t i) {
    ConvertStats stats;
    const ShardReader shard(inputs[i], schema, {std::numeric_limits<std::int64_t>::max(), NonFinitePolicy::kKeep});
    ShardWriterOptions writerOptions;
    writerOptions.compression = options.compression;
    writerOptions.with_weight = shard.hasWeight();
    writerOptions.producer = "tautrain convert from " + fs::path(inputs[i]).filename().string();
    ShardWriter writer(outputs[i], schema, writerOptions);
    CandidateBlock block;
    for (std::int64_t begin = 0; begin < shard.size(); begin += kCandidatesPerAppend) {
      shard.read(begin, std::min(shard.size(), begin + kCandidatesPerAppend), block);
      writer.append(block);
      stats.candidates += block.size();
    }
    writer.close();
    return stats;
  });
}

ConvertStats shardsToTfRecord(const std::vector<std::string>& inputs, const FeatureSchema& schema,
                              const TfRecordConfig& mapping, const ConvertOptions& options) {
  const ExampleCodec codec(schema, mapping);
  const auto outputs = outputPaths(inputs, options, ".tfrecord");
  const std::int64_t perRecord = mapping.candidates_per_record;
  const std::int64_t blockSize = std::max<std::int64_t>(4096 / perRecord, 1) * perRecord;
  return forEachFile(inputs.size(), options.threads, "hdf5 -> tfrecord", [&](std::size_t i) {
    ConvertStats stats;
    const ShardReader shard(inputs[i], schema);
    io::TfRecordWriter writer(outputs[i], true);
    CandidateBlock block;
    for (std::int64_t begin = 0; begin < shard.size(); begin += blockSize) {
      shard.read(begin, std::min(shard.size(), begin + blockSize), block);
      for (std::int64_t first = 0; first < block.size(); first += perRecord) {
        writer.write(io::serializeExample(codec.encode(block, first, std::min(block.size(), first + perRecord))));
        ++stats.records;
      }
      stats.candidates += block.size();
    }
    writer.close();
    return stats;
  });
}

}  // namespace tautrain::data
