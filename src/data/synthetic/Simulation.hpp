#pragma once
// The simulation half of the synthetic generator (docs/synthetic-data.md): what one candidate
// is (its class, decay mode, flight length, pileup) and the particles around it, with positions
// relative to the candidate axis. The feature filling (Features.hpp) turns them into rows.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tautrain/config/GeneratorConfig.hpp"
#include "tautrain/core/Random.hpp"
#include "tautrain/data/FeatureSchema.hpp"

namespace tautrain::data::synthetic {

constexpr double kPi = M_PI;
constexpr double kPionMass = 0.1396;

/// A particle in the candidate's neighbourhood, positions relative to the candidate axis.
struct Particle {
  enum Origin : std::uint8_t { kSignal, kUnderlying, kPileup };
  double pt = 0, deta = 0, dphi = 0;
  int type = kPfChargedHadron;
  int charge = 0;
  Origin origin = kSignal;
  double dxy = 0;           ///< transverse impact parameter, cm
  double dz = 0;            ///< longitudinal distance to the primary vertex, cm
  double caloFraction = 1;  ///< raw calorimeter energy over track momentum
  double hcalFraction = 0;
  bool displaced = false;
  double r = 0;  ///< dR to the axis, set once positions are final
  void updateDr() { r = std::sqrt(deta * deta + dphi * dphi); }
  bool isCharged() const { return charge != 0; }
};

/// What the candidate is, beyond its label.
struct Truth {
  int label = kJet;
  int decayMode = -1;
  double pt = 0, eta = 0, phi = 0;
  double flightLength = 0;  ///< true decay length of the tau or b hadron, cm
  bool heavyFlavour = false;
  bool fake = false;  ///< a candidate that mimics another class (narrow jet, leaky electron, ...)
  double pileup = 0;
};

inline double clamp(double x, double lo, double hi) { return std::min(hi, std::max(lo, x)); }

/// Simulates candidates as a generator config asks for: their classes, spectra and pileup.
class CandidateSimulation {
 public:
  explicit CandidateSimulation(const GeneratorConfig& config);

  /// Fills `t` and `parts` (cleared first) from `rng`, which the feature filling then goes on
  /// drawing from; returns the radius of the reconstructed signal cone.
  double simulate(Rng& rng, Truth& t, std::vector<Particle>& parts) const;

 private:
  const GeneratorConfig& m_config;
  std::array<double, 4> m_cumulativeFraction{};
};

}  // namespace tautrain::data::synthetic
