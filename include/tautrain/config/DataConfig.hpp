#pragma once
// The `data` section: which shards, how they are split, scaled, pruned and batched.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tautrain/core/Error.hpp"

namespace tautrain::data {

struct PruningConfig {
  double max_dr = 0;                              ///< 0: keep every token
  std::map<std::string, std::int64_t> max_tokens;  ///< per collection; absent or 0: no cap

  template <class V>
  void describe(V& v) {
    v("max_dr", max_dr, "drop tokens with dR above this (0: keep all); the global token has no dR");
    v("max_tokens", max_tokens, "per-collection cap, e.g. {pf: 128}; extra tokens are removed at random (seeded)");
  }
  void validate() const {
    TAUTRAIN_CHECK_KEY(max_dr >= 0, "max_dr", "must be >= 0");
    for (const auto& [name, cap] : max_tokens)
      TAUTRAIN_CHECK_KEY(cap >= 0, "max_tokens." + name, "must be >= 0");
  }
  bool active() const {
    if (max_dr > 0) return true;
    for (const auto& item : max_tokens)
      if (item.second > 0) return true;
    return false;
  }
};

/// How tf.train.Example records map onto the feature schema (docs/data-format.md, "TFRecord").
/// One Example holds one or more candidates: per-candidate values are lists with one entry per
/// candidate, token features of a collection are flat lists split by its per-candidate lengths.
struct TfRecordConfig {
  std::string label = "label";
  std::string pt = "pt";
  std::string eta = "eta";
  std::string decay_mode = "decay_mode";
  std::string weight = "weight";
  std::string token_key = "{collection}/{feature}";
  std::string length_key = "{collection}/length";
  std::map<std::string, std::string> keys;
  std::map<std::string, std::int64_t> classes = {{"e", 0}, {"mu", 1}, {"tau", 2}, {"jet", 3}};
  std::int64_t candidates_per_record = 1;
  bool skip_corrupt = false;

  template <class V>
  void describe(V& v) {
    v("label", label, "key of the class codes (int64)");
    v("pt", pt, "key of the candidate pT");
    v("eta", eta, "key of the candidate eta");
    v("decay_mode", decay_mode, "key of the reconstructed decay mode (int64)");
    v("weight", weight, "key of the per-candidate weight; read when present");
    v("token_key", token_key, "key of a token feature; {collection} and {feature} are replaced");
    v("length_key", length_key, "key of a collection's per-candidate token counts (int64)");
    v("keys", keys, "explicit keys for single features, e.g. {pf/pt: pfCand_pt}");
    v("classes", classes, "code of each class in the label key, e.g. {e: 11, mu: 13, tau: 15, jet: 0}");
    v("candidates_per_record", candidates_per_record, "candidates per Example when writing TFRecord");
    v("skip_corrupt", skip_corrupt, "skip records with a bad CRC or no valid Example (counted) instead of failing");
  }
  void validate() const {
    std::map<std::int64_t, std::string> codes;
    for (const auto& [name, code] : classes) {
      TAUTRAIN_CHECK_KEY(name == "e" || name == "mu" || name == "tau" || name == "jet", "classes." + name,
                         "unknown class; the classes are e, mu, tau and jet");
      TAUTRAIN_CHECK_KEY(codes.emplace(code, name).second, "classes." + name, "code ", code, " is also the code of '",
                         codes[code], "'");
    }
    TAUTRAIN_CHECK_KEY(classes.size() == 4, "classes", "needs a code for each of e, mu, tau and jet");
    TAUTRAIN_CHECK_KEY(token_key.find("{feature}") != std::string::npos, "token_key", "must contain {feature}");
    TAUTRAIN_CHECK_KEY(length_key.find("{collection}") != std::string::npos, "length_key",
                       "must contain {collection}");
    TAUTRAIN_CHECK_KEY(candidates_per_record > 0, "candidates_per_record", "must be positive");
  }
};

struct DataConfig {
  std::string features = "builtin";
  std::vector<std::string> files = {"data/synthetic"};
  std::vector<std::string> train_files;
  std::vector<std::string> valid_files;
  double valid_fraction = 0.1;
  double train_fraction = 1;
  std::uint64_t split_seed = 1;
  std::string scaler;
  int batch_size = 350;
  std::int64_t token_budget = 0;
  std::int64_t attention_budget = 0;
  int window_batches = 64;
  std::int64_t block_size = 256;
  bool smart_batching = true;
  int threads = 2;
  int prefetch_windows = 1;
  std::string non_finite = "error";
  std::int64_t hard_token_limit = 4096;
  PruningConfig pruning;
  TfRecordConfig tfrecord;

  template <class V>
  void describe(V& v) {
    v("features", features, "feature schema: 'builtin' (configs/features/taut.yaml) or a path");
    v("files", files, "shards: files, directories or glob patterns, split by valid_fraction");
    v("train_files", train_files, "explicit training shards (overrides files)");
    v("valid_files", valid_files, "explicit validation shards (overrides files)");
    v("valid_fraction", valid_fraction, "fraction of the files held out for validation");
    v("train_fraction", train_fraction, "train on this fraction of the training files (data-scaling studies)");
    v("split_seed", split_seed, "seed of the file split");
    v("scaler", scaler, "standard scaler JSON to use; empty: fit on the training files");
    v("batch_size", batch_size, "candidates per batch (0: token_budget only)");
    v("token_budget", token_budget, "padded tokens per batch, size x longest (0: off)");
    v("attention_budget", attention_budget, "attention pairs per head and batch, size x longest^2 (0: off)");
    v("window_batches", window_batches, "batches' worth of candidates sorted together");
    v("block_size", block_size, "candidates read contiguously from a shard");
    v("smart_batching", smart_batching, "sort windows by token count (false: random batches)");
    v("threads", threads, "loader threads");
    v("prefetch_windows", prefetch_windows, "windows prepared ahead per thread");
    v("non_finite", non_finite, "NaN/Inf features: 'error' or 'replace' (by 0, counted)");
    v("hard_token_limit", hard_token_limit, "a candidate with more tokens is an error");
    v.section("pruning", pruning);
    v.section("tfrecord", tfrecord);
  }

  void validate() const {
    TAUTRAIN_CHECK_KEY(valid_fraction >= 0 && valid_fraction < 1, "valid_fraction", "must be in [0, 1)");
    TAUTRAIN_CHECK_KEY(train_fraction > 0 && train_fraction <= 1, "train_fraction", "must be in (0, 1]");
    TAUTRAIN_CHECK_KEY(batch_size >= 0, "batch_size", "must be >= 0");
    TAUTRAIN_CHECK_KEY(token_budget >= 0, "token_budget", "must be >= 0");
    TAUTRAIN_CHECK_KEY(attention_budget >= 0, "attention_budget", "must be >= 0");
    TAUTRAIN_CHECK_KEY(batch_size > 0 || token_budget > 0 || attention_budget > 0, "batch_size",
                       "batch_size, token_budget and attention_budget cannot all be 0");
    TAUTRAIN_CHECK_KEY(window_batches > 0, "window_batches", "must be positive");
    TAUTRAIN_CHECK_KEY(block_size > 0, "block_size", "must be positive");
    TAUTRAIN_CHECK_KEY(threads > 0 && threads <= 256, "threads", "must be in 1..256");
    TAUTRAIN_CHECK_KEY(prefetch_windows > 0, "prefetch_windows", "must be positive");
    TAUTRAIN_CHECK_KEY(non_finite == "error" || non_finite == "replace", "non_finite",
                   "must be 'error' or 'replace', got '" + non_finite + "'");
    TAUTRAIN_CHECK_KEY(hard_token_limit > 0 && hard_token_limit <= 65535, "hard_token_limit", "must be in 1..65535");
    TAUTRAIN_CHECK_KEY(train_files.empty() == valid_files.empty(), train_files.empty() ? "train_files" : "valid_files",
                   "give both train_files and valid_files, or neither");
  }
};

}  // namespace tautrain::data
