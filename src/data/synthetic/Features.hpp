#pragma once
// The feature-filling half of the synthetic generator: turns a simulated candidate into the
// rows of the schema's collections, with detector-like smearing drawn from the same stream.
#include <memory>
#include <vector>

#include "Simulation.hpp"
#include "tautrain/data/CandidateBlock.hpp"

namespace tautrain::data::synthetic {

class FeatureFiller {
 public:
  /// ConfigError naming the collection or feature when the schema has one it cannot fill.
  explicit FeatureFiller(const FeatureSchema& schema);
  ~FeatureFiller();

  /// Appends the candidate's rows to `block`: one global row, its PF particles and RECO leptons.
  void fill(Rng& rng, const Truth& t, std::vector<Particle>& parts, double signalCone, CandidateBlock& block) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace tautrain::data::synthetic
