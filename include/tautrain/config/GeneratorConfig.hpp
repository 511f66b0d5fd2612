#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/core/Error.hpp"
#include "tautrain/io/Compression.hpp"

namespace tautrain::data {

/// Settings of the synthetic generator (docs/synthetic-data.md).
struct GeneratorConfig {
  std::uint64_t seed = 20250101;
  std::int64_t candidates = 200000;
  std::int64_t shard_size = 50000;
  std::string output = "data/synthetic";
  std::vector<double> class_fractions = {0.25, 0.25, 0.25, 0.25};
  double pt_min = 20;
  double pt_max = 1000;
  double eta_max = 2.3;
  double pileup = 35;
  int threads = 0;
  io::Codec compression = io::Codec::kNone;
  int compression_level = 0;
  int mantissa_bits = 0;

  template <class V>
  void describe(V& v) {
    v("seed", seed, "candidate i is generated from (seed, i) alone");
    v("candidates", candidates, "number of candidates in total");
    v("shard_size", shard_size, "candidates per shard file");
    v("output", output, "directory of the shards (shard-00000.h5, ...)");
    v("class_fractions", class_fractions, "fractions of e, mu, tau, jet (normalised)");
    v("pt_min", pt_min, "reconstructed tau pT range in GeV, log-uniform");
    v("pt_max", pt_max, "");
    v("eta_max", eta_max, "|eta| range, uniform");
    v("pileup", pileup, "mean number of pileup interactions");
    v("threads", threads, "worker threads (0: all cores)");
    v("compression", compression, "lossless codec of the shards (docs/data-format.md#compression)");
    v("compression_level", compression_level, "1..9, 0: the codec's default");
    v("mantissa_bits", mantissa_bits, "lossy: continuous features keep 1..22 mantissa bits (10 ~ fp16); 0: all");
  }

  void validate() const {
    TAUTRAIN_CHECK_KEY(candidates > 0, "candidates", "must be positive");
    TAUTRAIN_CHECK_KEY(shard_size > 0, "shard_size", "must be positive");
    TAUTRAIN_CHECK_KEY(class_fractions.size() == 4, "class_fractions", "needs 4 values (e, mu, tau, jet)");
    double sum = 0;
    for (double f : class_fractions) {
      TAUTRAIN_CHECK_KEY(f >= 0, "class_fractions", "fractions must be non-negative");
      sum += f;
    }
    TAUTRAIN_CHECK_KEY(sum > 0, "class_fractions", "at least one fraction must be positive");
    TAUTRAIN_CHECK_KEY(pt_min > 0 && pt_max > pt_min, "pt_min", "needs 0 < pt_min < pt_max");
    TAUTRAIN_CHECK_KEY(eta_max > 0 && eta_max <= 5, "eta_max", "must be in (0, 5]");
    TAUTRAIN_CHECK_KEY(pileup >= 0 && pileup <= 300, "pileup", "must be in [0, 300]");
    TAUTRAIN_CHECK_KEY(threads >= 0, "threads", "must be >= 0");
    TAUTRAIN_CHECK_KEY(compression_level >= 0 && compression_level <= 9, "compression_level", "must be 0..9");
    TAUTRAIN_CHECK_KEY(mantissa_bits >= 0 && mantissa_bits <= 22, "mantissa_bits", "must be 0..22");
  }
};

}  // namespace tautrain::data
