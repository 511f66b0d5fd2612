#include "tautrain/data/Loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <set>

#include "support/TestData.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/LoaderBenchmark.hpp"
#include "tautrain/data/Mixing.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/io/Hdf5.hpp"

using namespace tautrain;

namespace {

struct Fixture {
  test::TempDir dir;
  data::FeatureSchema schema = test::tinySchema();
  std::vector<std::string> paths = test::writeTinyShards(dir, 3, 100);
  data::Dataset dataset{paths, schema};
  data::StandardScaler scaler = data::StandardScaler::fit(dataset);

  data::LoaderOptions options(int threads) const {
    data::LoaderOptions o;
    o.batching.batch_size = 16;
    o.batching.window_batches = 4;
    o.block_size = 32;
    o.threads = threads;
    o.prefetch_windows = 1;
    o.seed = 3;
    return o;
  }
};

std::vector<std::vector<std::int64_t>> drain(data::Loader& loader) {
  std::vector<std::vector<std::int64_t>> out;
  while (auto b = loader.next()) out.push_back(b->host.candidate);
  return out;
}

}  // namespace

TEST(Loader, EpochFollowsThePlanForAnyThreadCount) {
  Fixture f;
  data::Loader one(f.dataset, f.scaler, f.options(1));
  one.startEpoch(2);
  const auto batches = drain(one);
  EXPECT_EQ(batches, one.plan().batches);
  std::vector<std::int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(all[i], i);

  data::Loader three(f.dataset, f.scaler, f.options(3));
  three.startEpoch(2);
  EXPECT_EQ(drain(three), batches);
}

TEST(Loader, ResumesInsideAnEpoch) {
  Fixture f;
  data::Loader loader(f.dataset, f.scaler, f.options(2));
  loader.startEpoch(1);
  const auto full = drain(loader);
  ASSERT_GT(full.size(), 8u);
  for (std::int64_t start : {std::int64_t{1}, std::int64_t{5}, static_cast<std::int64_t>(full.size()) - 1}) {
    loader.startEpoch(1, start);
    const auto rest = drain(loader);
    EXPECT_EQ(rest, std::vector<std::vector<std::int64_t>>(full.begin() + start, full.end())) << start;
  }
  // Stopping in the middle and starting the next epoch works too.
  loader.startEpoch(1);
  loader.next();
  loader.startEpoch(2);
  EXPECT_FALSE(drain(loader).empty());
}

TEST(Loader, BatchLayoutIsConsistentAndScaled) {
  Fixture f;
  const data::Loader loader(f.dataset, f.scaler, f.options(1));
  const std::vector<std::int64_t> candidates{7, 250, 3};
  const auto batch = loader.assemble(candidates, 0);
  // Lengths: 1 global + (i % 7 + 1) pf + (i % 2) muon.
  const std::vector<std::int64_t> lengths{1 + 1 + 1, 1 + 6 + 0, 1 + 4 + 1};
  EXPECT_EQ(batch.max_len, 7);
  ASSERT_EQ(batch.cu_seqlens, (std::vector<std::int32_t>{0, 3, 10, 16}));
  EXPECT_EQ(batch.label, (std::vector<std::int64_t>{3, 2, 3}));
  for (int i = 0; i < 3; ++i)
    for (int s = 0; s < batch.max_len; ++s) EXPECT_EQ(batch.padding_mask[i * 7 + s], s >= lengths[i] ? 1 : 0);

  // Every real slot is filled exactly once, in both layouts.
  std::set<std::int64_t> padded, packed;
  for (const auto& c : batch.collections)
    for (std::int64_t t = 0; t < c.tokens(); ++t) {
      EXPECT_TRUE(padded.insert(c.padded_pos[t]).second);
      EXPECT_TRUE(packed.insert(c.packed_pos[t]).second);
      EXPECT_EQ(batch.padding_mask[c.padded_pos[t]], 0);
    }
  EXPECT_EQ(static_cast<std::int64_t>(packed.size()), batch.realTokens());
  EXPECT_EQ(*packed.rbegin(), batch.realTokens() - 1);

  // Global token first; pf tokens next, scaled, without the categorical column.
  const auto& global = batch.collections[0];
  EXPECT_EQ(global.n_features, 1);
  EXPECT_EQ(global.type[0], data::kGlobalToken);
  EXPECT_EQ(global.packed_pos[1], 3);
  const auto& pf = batch.collections[1];
  EXPECT_EQ(pf.n_features, 4);
  EXPECT_EQ(pf.type[0], data::kPfChargedHadron);
  EXPECT_EQ(pf.packed_pos[0], 1);
  const auto& relPt = f.scaler.collections()[1].features[2];
  // Candidate 250, pf token 2: rel_pt = 250.02, dxy invalid (k odd -> 0), token 1 is odd.
  const std::int64_t token = 1 + 2;  // after candidate 7's single pf token
  EXPECT_NEAR(pf.features[token * 4 + 1], (250.02 - relPt.mean) / relPt.std, 1e-4);
  EXPECT_EQ(pf.features[(1 + 1) * 4 + 2], 0.0f);  // candidate 250, pf token 1: dxy invalid -> 0
}

TEST(Loader, PackedTokensOfACandidateLieBetweenItsCumulativeLengths) {
  // What the variable-length attention kernel reads: candidate i's tokens are packed rows
  // [cu_seqlens[i], cu_seqlens[i + 1]), in every collection.
  Fixture f;
  const data::Loader loader(f.dataset, f.scaler, f.options(1));
  const auto batch = loader.assemble({7, 250, 3, 41, 42, 199}, 0);
  for (std::size_t k = 0; k < batch.collections.size(); ++k)
    for (std::int64_t t = 0; t < batch.collections[k].tokens(); ++t) {
      const auto& c = batch.collections[k];
      const auto candidate = c.padded_pos[t] / batch.max_len;
      EXPECT_GE(c.packed_pos[t], batch.cu_seqlens[candidate]) << "collection " << k << " token " << t;
      EXPECT_LT(c.packed_pos[t], batch.cu_seqlens[candidate + 1]) << "collection " << k << " token " << t;
      EXPECT_EQ(c.packed_pos[t] - batch.cu_seqlens[candidate], c.padded_pos[t] % batch.max_len);
    }
}

TEST(Loader, BucketedLengthsPadToTheBucketAndChangeNothingElse) {
  Fixture f;
  auto options = f.options(1);
  const data::Loader plain(f.dataset, f.scaler, options);
  options.bucket_lengths = true;
  const data::Loader bucketed(f.dataset, f.scaler, options);
  const std::vector<std::int64_t> candidates{7, 250, 3};  // longest: 7 tokens
  const auto a = plain.assemble(candidates, 0), b = bucketed.assemble(candidates, 0);
  EXPECT_EQ(a.max_len, 7);
  EXPECT_EQ(b.max_len, 8);
  EXPECT_EQ(a.cu_seqlens, b.cu_seqlens);
  for (std::size_t c = 0; c < a.collections.size(); ++c) {
    EXPECT_EQ(a.collections[c].features, b.collections[c].features);
    EXPECT_EQ(a.collections[c].packed_pos, b.collections[c].packed_pos);
    for (std::size_t t = 0; t < a.collections[c].padded_pos.size(); ++t)  // the same slot of a longer row
      EXPECT_EQ(a.collections[c].padded_pos[t] / 7 * 8 + a.collections[c].padded_pos[t] % 7, b.collections[c].padded_pos[t]);
  }
  for (std::int64_t i = 0; i < 3; ++i)
    for (std::int64_t s = 0; s < 8; ++s)
      EXPECT_EQ(b.padding_mask[i * 8 + s], s >= a.cu_seqlens[i + 1] - a.cu_seqlens[i] ? 1 : 0);
}

TEST(Loader, KeepsItsOwnScalerSoATemporaryOneIsSafe) {
  Fixture f;
  // The scaler is gone (and its memory overwritten) before the loader uses it.
  auto loader = std::make_unique<data::Loader>(f.dataset, data::StandardScaler::fit(f.dataset), f.options(1));
  std::vector<std::vector<float>> garbage(64, std::vector<float>(4096, 1e30f));
  const auto batch = loader->assemble({250}, 0);
  const auto& relPt = f.scaler.collections()[1].features[2];
  EXPECT_NEAR(batch.collections[1].features[2 * 4 + 1], (250.02 - relPt.mean) / relPt.std, 1e-4);
}

TEST(Loader, TensorsMirrorTheHostBatch) {
  Fixture f;
  auto options = f.options(2);
  options.make_tensors = true;
  data::Loader loader(f.dataset, f.scaler, options);
  loader.startEpoch(0);
  const auto batch = loader.next();
  ASSERT_TRUE(batch && batch->tensors);
  const auto& t = *batch->tensors;
  EXPECT_EQ(t.size, batch->host.size);
  EXPECT_EQ(t.padding_mask.sizes(), (std::vector<std::int64_t>{batch->host.size, batch->host.max_len}));
  EXPECT_EQ(t.padding_mask.scalar_type(), torch::kBool);
  EXPECT_EQ(t.padding_mask.sum().item<std::int64_t>(), batch->host.paddedTokens() - batch->host.realTokens());
  EXPECT_EQ(t.collections[1].features.size(1), 4);
  EXPECT_EQ(t.cu_seqlens[-1].item<std::int32_t>(), batch->host.realTokens());
  EXPECT_EQ(t.label.sum().item<std::int64_t>(),
            std::accumulate(batch->host.label.begin(), batch->host.label.end(), std::int64_t{0}));
}

TEST(Loader, ReaderErrorsReachTheConsumerNamingFileAndCandidate) {
  Fixture f;
  // A shard whose particle_type is no token type: caught when the batch is assembled.
  auto block = test::tinyBlock(0, 20);
  block.collections[1].row(5)[1] = 42.0f;
  const auto bad = f.dir.file("bad.h5");
  {
    data::ShardWriter writer(bad, f.schema);
    writer.append(block);
    writer.close();
  }
  const data::Dataset dataset({bad}, f.schema);
  data::Loader loader(dataset, f.scaler, f.options(2));
  loader.startEpoch(0);
  try {
    while (loader.next()) {
    }
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("bad.h5"), std::string::npos) << message;
    EXPECT_NE(message.find("candidate 2"), std::string::npos) << message;  // token 5 belongs to candidate 2
    EXPECT_NE(message.find("particle_type"), std::string::npos) << message;
  }
}

TEST(Loader, SplitByFileIsSeededAndComplete) {
  test::TempDir dir;
  test::writeTinyShards(dir, 10, 5);
  data::DataConfig config;
  config.files = {dir.path().string()};
  config.valid_fraction = 0.2;
  const auto split = data::splitFiles(config);
  EXPECT_EQ(split.valid.size(), 2u);
  EXPECT_EQ(split.train.size(), 8u);
  std::set<std::string> all(split.train.begin(), split.train.end());
  all.insert(split.valid.begin(), split.valid.end());
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(data::splitFiles(config).valid, split.valid);
  config.split_seed = 2;
  EXPECT_EQ(data::splitFiles(config).valid.size(), 2u);
  config.files = {dir.file("tiny-0.h5")};
  EXPECT_THROW(data::splitFiles(config), ConfigError);
}

TEST(LoaderBenchmark, MeasuresGeneratorScalerPaddingAndEveryThreadCount) {
  tautrain::test::TempDir dir;
  tautrain::data::LoaderBenchmarkOptions options;
  options.candidates = 2000;
  options.max_threads = 2;
  options.batch_size = 100;
  options.window_batches = 8;
  const auto r = tautrain::data::measureLoader(options, dir.path().string());
  EXPECT_EQ(r.candidates, 2000);
  ASSERT_EQ(r.loader.size(), 2u);
  EXPECT_EQ(r.loader[0].threads, 1);
  EXPECT_EQ(r.loader[1].threads, 2);
  for (const auto& rate : r.loader) EXPECT_GT(rate.candidates_per_s, 0);
  EXPECT_GT(r.padding_efficiency_smart, r.padding_efficiency_random) << "what smart batching is for";
  EXPECT_LE(r.padding_efficiency_smart, 1.0);
  EXPECT_GT(r.generate_one_thread_per_s, 0);
  EXPECT_GT(r.generate_writing_shards_per_s, 0);
  EXPECT_GT(r.scaler_fit_per_s, 0);
  // The label and ~1.1 B for each of pf, ele and muon; the plan keeps 8 B per candidate.
  EXPECT_GE(r.footprint.index_bytes_per_candidate, 1 + 3 * 1.0);
  EXPECT_LE(r.footprint.index_bytes_per_candidate, 1 + 3 * 1.2);
  EXPECT_EQ(r.footprint.token_counts_bytes_per_candidate, 2);
  EXPECT_GE(r.footprint.plan_bytes_per_candidate, 8);
  EXPECT_LE(r.footprint.plan_bytes_per_candidate, 9) << "no growth slack kept in the batches";
  ASSERT_EQ(r.codecs.size(), 3u);
  for (const auto& c : r.codecs)
    for (const auto& disk : {c.disk_one_thread, c.disk_all_threads}) {
      EXPECT_GT(disk.candidates_per_s, 0);
      EXPECT_GE(disk.cached_fraction_before, 0);
      EXPECT_LE(disk.cached_fraction_before, 1);
    }
  EXPECT_EQ(r.codecs[0].disk_one_thread.threads, 1);
  EXPECT_EQ(r.codecs[0].disk_all_threads.threads, 2);
  // Compressed shards are also measured decoded by HDF5, the baseline of decoding outside its lock.
  EXPECT_EQ(r.codecs[0].hdf5_filters_one_thread_per_s, 0) << "uncompressed: nothing to decode";
  for (std::size_t k = 1; k < r.codecs.size(); ++k) {
    EXPECT_GT(r.codecs[k].hdf5_filters_one_thread_per_s, 0);
    EXPECT_GT(r.codecs[k].hdf5_filters_all_threads_per_s, 0);
  }
  EXPECT_EQ(io::h5::chunkDecoding(), io::h5::ChunkDecoding::kOutsideLock) << "restored after the baseline";

  // The generated shards stay in the directory: measured again as existing data.
  const auto onDisk = tautrain::data::measureLoaderOn(tautrain::data::expandPaths({dir.path().string()}), options);
  EXPECT_EQ(onDisk.candidates, 2000);
  EXPECT_EQ(onDisk.shards, 4);
  EXPECT_GT(onDisk.bytes_per_candidate, 1000);
  EXPECT_EQ(onDisk.footprint.index_bytes_per_candidate, r.footprint.index_bytes_per_candidate);
  ASSERT_EQ(onDisk.disk.size(), 2u);
  for (const auto& disk : onDisk.disk) {
    EXPECT_GT(disk.candidates_per_s, 0);
    // What left the page cache is read from storage (where the kernel counts it).
    if (disk.cached_fraction_before < 0.5 && disk.read_bytes_per_candidate > 0) {
      EXPECT_GT(disk.read_bytes_per_candidate, 0.5 * onDisk.bytes_per_candidate);
    }
  }
  EXPECT_GT(onDisk.peak_resident_bytes, 0);
}

TEST(Mixing, SmallBlocksMixShardsOfOneClassEachAndWholeShardsDoNot) {
  // Real shards are often one physics sample each: here shard s holds only class s.
  test::TempDir dir;
  std::vector<std::string> paths;
  for (int s = 0; s < 4; ++s) {
    auto block = test::tinyBlock(s * 2000, 2000);
    for (std::size_t i = 0; i < block.label.size(); ++i) {
      block.label[i] = static_cast<std::int8_t>(s);
      block.decay_mode[i] = static_cast<std::int8_t>(s == data::kTau ? 1 : -1);
    }
    paths.push_back(dir.file("class-" + std::to_string(s) + ".h5"));
    data::ShardWriter writer(paths.back(), test::tinySchema());
    writer.append(block);
    writer.close();
  }
  const auto schema = test::tinySchema();
  const data::Dataset dataset(paths, schema);
  const auto counts = dataset.tokenCounts({});
  data::BatchingOptions options;
  options.batch_size = 100;
  options.window_batches = 8;
  const auto mixing = [&](std::int64_t blockSize) {
    return data::measureMixing(data::planEpoch(counts, dataset.blocks(blockSize), options, 1, 0), dataset);
  };
  // Each window of 800 candidates draws 800, 100 or 1 blocks: its class fractions, which all
  // of its 8 batches share, vary less the more blocks it has.
  const auto single = mixing(1), small = mixing(8), whole = mixing(2000);
  EXPECT_EQ(single.shards_per_batch, 4.0);
  EXPECT_LT(single.class_spread, 1.2);
  EXPECT_LT(std::abs(single.tau_fraction_autocorrelation), 0.2);
  EXPECT_GT(small.tau_fraction_autocorrelation, single.tau_fraction_autocorrelation + 0.2);
  EXPECT_LT(small.class_spread, 1.5);
  EXPECT_LT(whole.shards_per_batch, 1.5);
  EXPECT_GT(whole.class_spread, 5.0);
  EXPECT_GT(whole.tau_fraction_autocorrelation, 0.8);
}
