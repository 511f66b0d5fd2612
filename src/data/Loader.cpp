#include "tautrain/data/Loader.hpp"

#include <algorithm>
#include <cmath>

#include "tautrain/core/Error.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/TensorBatch.hpp"

namespace tautrain::data {

LoaderOptions LoaderOptions::fromConfig(const DataConfig& config, std::uint64_t seed) {
  LoaderOptions options;
  options.batching = batchingOptions(config);
  options.pruning = config.pruning;
  options.block_size = config.block_size;
  options.threads = config.threads;
  options.prefetch_windows = config.prefetch_windows;
  options.seed = seed;
  return options;
}

/// Contiguous candidate runs read from the shards for one window.
struct Loader::Window {
  struct Run {
    std::int64_t begin = 0;  ///< dataset index of the first candidate
    std::size_t shard = 0;
    std::int64_t shardBegin = 0;  ///< local index of the first candidate in its shard
    CandidateBlock block;
  };
  std::vector<Run> runs;
  std::size_t used = 0;  ///< runs[0, used) hold this window; the rest keep memory for the next

  Window() = default;
  Window(const Dataset& dataset, std::vector<std::int64_t> candidates) { load(dataset, std::move(candidates)); }

  /// Reads the runs of `candidates`, reusing the memory of earlier windows.
  void load(const Dataset& dataset, std::vector<std::int64_t> candidates) {
    std::sort(candidates.begin(), candidates.end());
    used = 0;
    std::size_t k = 0;
    while (k < candidates.size()) {
      const std::size_t shard = dataset.shardOf(candidates[k]);
      const std::int64_t shardEnd = dataset.shardStart(shard + 1);
      std::size_t j = k + 1;
      while (j < candidates.size() && candidates[j] == candidates[j - 1] + 1 && candidates[j] < shardEnd) ++j;
      const std::int64_t local = candidates[k] - dataset.shardStart(shard);
      const auto count = static_cast<std::int64_t>(j - k);
      if (used == runs.size()) runs.emplace_back();
      Run& run = runs[used++];
      run.begin = candidates[k], run.shard = shard, run.shardBegin = local;
      dataset.shard(shard).read(local, local + count, run.block);
      k = j;
    }
  }
  /// The run holding dataset candidate i and i's index inside its block.
  std::pair<const Run*, std::int64_t> find(std::int64_t i) const {
    auto it = std::upper_bound(runs.begin(), runs.begin() + used, i,
                               [](std::int64_t x, const Run& r) { return x < r.begin; });
    const Run& run = *(it - 1);
    return {&run, i - run.begin};
  }
};

Loader::Loader(const Dataset& dataset, StandardScaler scaler, LoaderOptions options)
    : m_dataset(dataset), m_scaler(std::move(scaler)), m_options(std::move(options)),
      m_pruner(dataset.schema(), m_options.pruning, m_options.seed) {
  const auto& schema = dataset.schema();
  m_scaler.checkMatches(schema, "the scaler");
  m_tokenCounts = dataset.tokenCounts(m_options.pruning);
  m_blocks = dataset.blocks(m_options.block_size);
  for (const auto& c : schema.collections) {
    std::vector<int> columns;
    for (int f = 0; f < static_cast<int>(c.features.size()); ++f)
      if (!c.isCategorical(f)) columns.push_back(f);
    m_featureColumns.push_back(columns);
    m_typeColumn.push_back(c.typeColumn());
    TAUTRAIN_CHECK_KEY(c.typeColumn() >= 0 || c.per_candidate, "data.features",
                   "collection '", c.name, "' needs a particle_type column for the token type");
    m_validity.push_back(c.validityColumns());
  }
}

Loader::~Loader() { stop(); }

std::int64_t Loader::longestCandidate() const {
  return m_tokenCounts.empty() ? 0 : *std::max_element(m_tokenCounts.begin(), m_tokenCounts.end());
}

void Loader::stop() { m_pipeline.reset(); }

void Loader::startEpoch(std::int64_t epoch, std::int64_t firstBatch) {
  stop();
  m_plan = planRankShare(m_tokenCounts, m_blocks, m_options.batching, m_options.seed, epoch, m_options.share,
                         m_options.rank, m_options.world_size);
  TAUTRAIN_CHECK(firstBatch >= 0 && firstBatch <= batchesInEpoch(), Error, "resume position ", firstBatch,
                 " is outside the epoch of ", batchesInEpoch(), " batches");
  m_epoch = epoch;
  m_windowFirstBatch.clear();
  for (std::int64_t b = 0; b < batchesInEpoch(); ++b)
    if (b == 0 || m_plan.window[b] != m_plan.window[b - 1]) m_windowFirstBatch.push_back(b);
  m_windowFirstBatch.push_back(batchesInEpoch());
  m_firstBatch = firstBatch;
  PipelinePlan plan;
  plan.first_item = firstBatch;
  plan.end_item = batchesInEpoch();
  plan.first_task = windowOf(firstBatch);  // the window that holds the first batch
  plan.end_task = static_cast<std::int64_t>(m_windowFirstBatch.size()) - 1;
  plan.task_of = [this](std::int64_t batch) { return windowOf(batch); };
  plan.tasks_ahead = static_cast<std::int64_t>(m_options.threads) * m_options.prefetch_windows;
  // Assemble only a few batches ahead of the consumer, so batch memory is recycled instead of
  // a whole window's worth (hundreds of MB of fresh pages) living at once.
  plan.items_ahead = kBatchesAhead;
  m_buffers.resize(static_cast<std::size_t>(std::max(m_options.threads, 1)));
  m_pipeline = std::make_unique<OrderedPipeline<LoadedBatch>>(
      std::move(plan), m_options.threads, [this](int worker, std::int64_t window, const auto& emit) {
        processWindow(window, m_buffers[static_cast<std::size_t>(worker)], emit);
      });
}

std::int64_t Loader::windowOf(std::int64_t batch) const {
  // Index w with m_windowFirstBatch[w] <= batch < m_windowFirstBatch[w + 1].
  const auto it = std::upper_bound(m_windowFirstBatch.begin(), m_windowFirstBatch.end() - 1, batch);
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(it - m_windowFirstBatch.begin()) - 1);
}

void Loader::processWindow(std::int64_t window, Window& data, const OrderedPipeline<LoadedBatch>::Emit& emit) const {
  const std::int64_t first = std::max(m_windowFirstBatch[window], m_firstBatch);
  const std::int64_t last = m_windowFirstBatch[window + 1];
  std::vector<std::int64_t> candidates;
  for (std::int64_t b = first; b < last; ++b)
    candidates.insert(candidates.end(), m_plan.batches[b].begin(), m_plan.batches[b].end());
  if (candidates.empty()) return;
  data.load(m_dataset, candidates);
  for (std::int64_t b = first; b < last; ++b) {
    const bool emitted = emit(b, [&] {
      LoadedBatch loaded;
      loaded.host = assembleFrom(data, m_plan.batches[b], m_epoch);
      loaded.host.index = b;
      if (m_options.make_tensors)
        loaded.tensors = std::make_shared<TensorBatch>(toTensors(loaded.host, m_options.pin_memory));
      return loaded;
    });
    if (!emitted) return;
  }
}

std::optional<LoadedBatch> Loader::next() {
  TAUTRAIN_CHECK(m_pipeline, Error, "the loader has no epoch started");
  return m_pipeline->next();
}

HostBatch Loader::assemble(const std::vector<std::int64_t>& candidates, std::int64_t epoch) const {
  const Window data(m_dataset, candidates);
  return assembleFrom(data, candidates, epoch);
}

HostBatch Loader::assembleFrom(const Window& data, const std::vector<std::int64_t>& candidates,
                               std::int64_t epoch) const {
  const auto& schema = m_dataset.schema();
  const std::size_t nColl = schema.collections.size();
  const auto n = static_cast<std::int64_t>(candidates.size());
  HostBatch batch;
  batch.epoch = epoch;
  batch.size = n;
  batch.candidate = candidates;

  // Surviving tokens of every (candidate, collection), as block rows.
  std::vector<std::vector<std::int64_t>> kept(n * nColl);
  std::vector<std::pair<const Window::Run*, std::int64_t>> where(n);
  batch.cu_seqlens.assign(n + 1, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    where[i] = data.find(candidates[i]);
    const auto& [run, local] = where[i];
    std::int64_t len = 0;
    for (std::size_t c = 0; c < nColl; ++c) {
      m_pruner.select(c, run->block.collections[c], local, candidates[i], epoch, kept[i * nColl + c]);
      len += static_cast<std::int64_t>(kept[i * nColl + c].size());
    }
    batch.cu_seqlens[i + 1] = static_cast<std::int32_t>(batch.cu_seqlens[i] + len);
    batch.max_len = std::max(batch.max_len, len);
    const auto& block = run->block;
    batch.label.push_back(block.label[local]);
    batch.weight.push_back(block.weight.empty() ? 1.0f : block.weight[local]);
    batch.pt.push_back(block.pt[local]);
    batch.eta.push_back(block.eta[local]);
    batch.decay_mode.push_back(block.decay_mode[local]);
  }
  if (m_options.bucket_lengths) batch.max_len = lengthBucket(batch.max_len);
  batch.padding_mask.assign(n * batch.max_len, 1);
  for (std::int64_t i = 0; i < n; ++i)
    std::fill_n(batch.padding_mask.begin() + i * batch.max_len, batch.cu_seqlens[i + 1] - batch.cu_seqlens[i], 0);

  std::vector<std::int64_t> position(n, 0);  // next free slot of each candidate's sequence
  const auto numTypes = schema.tokenTypeCount();
  for (std::size_t c = 0; c < nColl; ++c) {
    const auto& coll = schema.collections[c];
    const auto& columns = m_featureColumns[c];
    const auto& validity = m_validity[c];
    HostTokens tokens;
    tokens.collection = coll.name;
    tokens.n_features = static_cast<int>(columns.size());
    std::int64_t total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += static_cast<std::int64_t>(kept[i * nColl + c].size());
    tokens.features.reserve(total * columns.size());
    tokens.type.reserve(total);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto& [run, local] = where[i];
      const auto& m = run->block.collections[c];
      for (std::int64_t row : kept[i * nColl + c]) {
        const float* values = m.row(row);
        for (int f : columns) {
          const bool valid = validity[f] < 0 || values[validity[f]] != 0.0f;
          tokens.features.push_back(valid ? m_scaler.apply(c, f, values[f]) : 0.0f);
        }
        std::int64_t type = kGlobalToken;
        if (m_typeColumn[c] >= 0) {
          const float raw = values[m_typeColumn[c]];
          type = static_cast<std::int64_t>(raw);
          if (!(raw >= 0 && raw < numTypes && raw == std::floor(raw)))
            throw DataError(m_dataset.shard(run->shard).path() + ": candidate " +
                            std::to_string(run->shardBegin + local) + ": " + coll.name + " particle_type " +
                            std::to_string(raw) + " is not a token type index 0.." + std::to_string(numTypes - 1));
        }
        tokens.type.push_back(type);
        tokens.padded_pos.push_back(i * batch.max_len + position[i]);
        tokens.packed_pos.push_back(batch.cu_seqlens[i] + position[i]);
        ++position[i];
      }
    }
    batch.collections.push_back(std::move(tokens));
  }
  return batch;
}

}  // namespace tautrain::data
