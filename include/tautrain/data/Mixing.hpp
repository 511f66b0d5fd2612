#pragma once
// How well an epoch plan mixes the dataset: real shards are often one physics sample each (all
// taus, all jets), so a plan that reads shards in windows must still give batches that look
// like the whole dataset (docs/training.md#batches-and-mixing).
#include "tautrain/data/Batching.hpp"

namespace tautrain::data {

class Dataset;

struct PlanMixing {
  double shards_per_batch = 0;  ///< mean number of distinct shards a batch draws from
  /// Spread of each batch's class fractions around the dataset's, in units of what uniformly
  /// random batches of the same size would show (binomial): about 1 when well mixed.
  double class_spread = 0;
  /// Lag-1 autocorrelation of the batches' tau fraction along the training order (0: none).
  double tau_fraction_autocorrelation = 0;
};

PlanMixing measureMixing(const EpochPlan& plan, const Dataset& dataset);

}  // namespace tautrain::data
