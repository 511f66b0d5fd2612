#include "tautrain/data/SyntheticGenerator.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Random.hpp"
#include "tautrain/data/Shard.hpp"

namespace tautrain::data {

// clang-format off
#define TAUTRAIN_GLOBAL_FEATURES(X) X(particle_type) X(tau_pt) X(tau_eta) X(tau_mass) X(tau_E_over_pt) \
  X(tau_charge) X(tau_chargedIsoPtSum) X(tau_chargedIsoPtSumdR03_over_dR05) X(tau_footprintCorrection) \
  X(tau_neutralIsoPtSum) X(tau_neutralIsoPtSumWeight_over_neutralIsoPtSum) \
  X(tau_neutralIsoPtSumWeightdR03_over_neutralIsoPtSum) X(tau_neutralIsoPtSumdR03_over_dR05) \
  X(tau_photonPtSumOutsideSignalCone) X(tau_puCorrPtSum) X(tau_hasSecondaryVertex) X(tau_flightLength_x) \
  X(tau_flightLength_y) X(tau_flightLength_z) X(tau_flightLength_sig) X(tau_dxy_valid) X(tau_dxy) X(tau_dxy_sig) \
  X(tau_ip3d) X(tau_ip3d_sig) X(tau_dz_sig_valid) X(tau_dz) X(tau_dz_sig) X(rho) X(tau_n_charged_prongs) \
  X(tau_n_neutral_prongs) X(tau_pt_weighted_deta_strip) X(tau_pt_weighted_dphi_strip) X(tau_pt_weighted_dr_signal) \
  X(tau_pt_weighted_dr_iso) X(tau_e_ratio) X(tau_gj_angle_diff_valid) X(tau_gj_angle_diff) X(tau_n_photons) \
  X(tau_emFraction) X(tau_inside_ecal_crack) X(tau_leadingTrackNormChi2) \
  X(tau_leadChargedCand_etaAtEcalEntrance_minus_tau_eta)
#define TAUTRAIN_PF_FEATURES(X) X(r) X(theta) X(rel_pt) X(particle_type) X(charge) X(pvAssociationQuality) \
  X(fromPV) X(vertex_dx) X(vertex_dy) X(vertex_dz) X(vertex_z_valid) X(vertex_dx_tauFL) X(vertex_dy_tauFL) \
  X(vertex_dz_tauFL) X(dxy) X(dxy_sig) X(dxy_sig_valid) X(dz) X(dz_valid) X(dz_sig) X(dz_sig_valid) \
  X(lostInnerHits) X(nPixelHits) X(hasTrackDetails) X(nHits) X(nPixelLayers) X(nStripLayers) X(track_ndof) \
  X(track_ndof_valid) X(chi2_ndof) X(hcalFraction) X(rawCaloFraction) X(rawHcalFraction) \
  X(tauLeadChargedHadrCand) X(puppiWeight)
#define TAUTRAIN_ELE_FEATURES(X) X(r) X(theta) X(rel_pt) X(particle_type) X(mvaInput_earlyBrem) \
  X(mvaInput_lateBrem) X(mvaInput_sigmaEtaEta) X(mvaInput_hadEnergy) X(mvaInput_deltaEta) X(mva_valid) \
  X(sigmaEtaEta) X(sigmaIetaIeta) X(sigmaIphiIphi) X(sigmaIetaIphi) X(e1x5) X(e2x5Max) X(e5x5) X(r9) \
  X(hcalDepth1OverEcal) X(hcalDepth2OverEcal) X(hcalDepth1OverEcalBc) X(hcalDepth2OverEcalBc) X(eLeft) X(eRight) \
  X(eBottom) X(eTop) X(full5x5_sigmaEtaEta) X(full5x5_sigmaIetaIeta) X(full5x5_sigmaIphiIphi) \
  X(full5x5_sigmaIetaIphi) X(full5x5_e1x5) X(full5x5_e2x5Max) X(full5x5_e5x5) X(full5x5_r9) \
  X(full5x5_hcalDepth1OverEcal) X(full5x5_hcalDepth2OverEcal) X(full5x5_hcalDepth1OverEcalBc) \
  X(full5x5_hcalDepth2OverEcalBc) X(full5x5_eLeft) X(full5x5_eRight) X(full5x5_eBottom) X(full5x5_eTop) \
  X(full5x5_e2x5Left) X(full5x5_e2x5Right) X(full5x5_e2x5Bottom) X(full5x5_e2x5Top)
#define TAUTRAIN_MUON_FEATURES(X) X(r) X(theta) X(rel_pt) X(particle_type) X(segmentCompatibility) \
  X(caloCompatibility) X(rel_pfEcalEnergy) X(dxy) X(dxy_sig) X(normalizedChi2_valid) X(normalizedChi2) \
  X(numberOfValidHits) \
  X(n_matches_DT_1) X(n_matches_DT_2) X(n_matches_DT_3) X(n_matches_DT_4) \
  X(n_matches_CSC_1) X(n_matches_CSC_2) X(n_matches_CSC_3) X(n_matches_CSC_4) \
  X(n_matches_RPC_1) X(n_matches_RPC_2) X(n_matches_RPC_3) X(n_matches_RPC_4) \
  X(n_hits_DT_1) X(n_hits_DT_2) X(n_hits_DT_3) X(n_hits_DT_4) \
  X(n_hits_CSC_1) X(n_hits_CSC_2) X(n_hits_CSC_3) X(n_hits_CSC_4) \
  X(n_hits_RPC_1) X(n_hits_RPC_2) X(n_hits_RPC_3) X(n_hits_RPC_4)
// clang-format on

#define TAUTRAIN_DECLARE_COLUMN(name) int name = -1;
#define TAUTRAIN_NAME_COLUMN(name) #name,
struct GlobalColumns { TAUTRAIN_GLOBAL_FEATURES(TAUTRAIN_DECLARE_COLUMN) };
struct PfColumns { TAUTRAIN_PF_FEATURES(TAUTRAIN_DECLARE_COLUMN) };
struct EleColumns { TAUTRAIN_ELE_FEATURES(TAUTRAIN_DECLARE_COLUMN) };
struct MuonColumns { TAUTRAIN_MUON_FEATURES(TAUTRAIN_DECLARE_COLUMN) };

namespace {

constexpr double kPi = M_PI;
constexpr double kPionMass = 0.1396;
constexpr double kTauCTau = 0.0087;  // cm

/// A particle in the candidate's neighbourhood, positions relative to the candidate axis.
struct Particle {
  enum Origin : std::uint8_t { kSignal, kUnderlying, kPileup };
  double pt = 0, deta = 0, dphi = 0;
  int type = kPfChargedHadron;
  int charge = 0;
  Origin origin = kSignal;
  double dxy = 0;       ///< transverse impact parameter, cm
  double dz = 0;        ///< longitudinal distance to the primary vertex, cm
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

struct DecayMode {
  int index, charged, pi0;
  double fraction, massScale;
};
// Hadronic tau decays of docs/physics.md §1 (other modes folded in proportionally).
constexpr std::array<DecayMode, 5> kDecayModes{{{0, 1, 0, 11.5, 0.25},
                                                {1, 1, 1, 25.9, 0.75},
                                                {2, 1, 2, 9.5, 0.95},
                                                {10, 3, 0, 9.8, 1.05},
                                                {11, 3, 1, 4.8, 1.2}}};

double clamp(double x, double lo, double hi) { return std::min(hi, std::max(lo, x)); }

/// Energy fractions from a flat Dirichlet, sharper (a leading particle) for power > 1.
void splitFractions(Rng& rng, int n, double power, std::vector<double>& out) {
  out.resize(n);
  double sum = 0;
  for (auto& x : out) {
    x = std::pow(rng.exponential(1.0), power) + 1e-6;
    sum += x;
  }
  for (auto& x : out) x /= sum;
}

int resolve(const Collection& c, const char* name, std::vector<bool>& covered) {
  const int column = c.find(name);
  if (column < 0) return static_cast<int>(c.features.size());  // scratch slot past the row
  covered[column] = true;
  return column;
}

template <typename Columns>
Columns resolveColumns(const Collection& c, const std::vector<const char*>& names, Columns columns) {
  std::vector<bool> covered(c.features.size(), false);
  int* slots = reinterpret_cast<int*>(&columns);
  for (std::size_t k = 0; k < names.size(); ++k) slots[k] = resolve(c, names[k], covered);
  for (std::size_t k = 0; k < covered.size(); ++k)
    TAUTRAIN_CHECK_KEY(covered[k], "data.features",
                   "the synthetic generator cannot fill feature '", c.features[k], "' of collection '", c.name, "'");
  return columns;
}

}  // namespace

struct SyntheticGenerator::Impl {
  const GeneratorConfig& config;
  int globalIndex = -1, pfIndex = -1, eleIndex = -1, muonIndex = -1;
  GlobalColumns g;
  PfColumns pf;
  EleColumns ele;
  MuonColumns mu;
  std::array<double, 4> cumulativeFraction{};

  Impl(const FeatureSchema& schema, const GeneratorConfig& cfg) : config(cfg) {
    for (std::size_t c = 0; c < schema.collections.size(); ++c) {
      const auto& coll = schema.collections[c];
      if (coll.name == "global") {
        globalIndex = static_cast<int>(c);
        g = resolveColumns(coll, {TAUTRAIN_GLOBAL_FEATURES(TAUTRAIN_NAME_COLUMN)}, GlobalColumns{});
      } else if (coll.name == "pf") {
        pfIndex = static_cast<int>(c);
        pf = resolveColumns(coll, {TAUTRAIN_PF_FEATURES(TAUTRAIN_NAME_COLUMN)}, PfColumns{});
      } else if (coll.name == "ele") {
        eleIndex = static_cast<int>(c);
        ele = resolveColumns(coll, {TAUTRAIN_ELE_FEATURES(TAUTRAIN_NAME_COLUMN)}, EleColumns{});
      } else if (coll.name == "muon") {
        muonIndex = static_cast<int>(c);
        mu = resolveColumns(coll, {TAUTRAIN_MUON_FEATURES(TAUTRAIN_NAME_COLUMN)}, MuonColumns{});
      } else {
        throw ConfigError("data.features", "the synthetic generator knows collections global, pf, ele and muon, not '" +
                                               coll.name + "'");
      }
    }
    double sum = 0;
    for (double f : cfg.class_fractions) sum += f;
    double running = 0;
    for (int k = 0; k < 4; ++k) cumulativeFraction[k] = (running += cfg.class_fractions[k] / sum);
  }

  // ---- signal particles per class -------------------------------------------------------------

  void makeTau(Rng& rng, Truth& t, std::vector<Particle>& out) const {
    double u = rng.uniform() * 61.5, acc = 0;
    const DecayMode* mode = &kDecayModes[0];
    for (const auto& m : kDecayModes)
      if (u < (acc += m.fraction)) {
        mode = &m;
        break;
      }
    t.decayMode = mode->index;
    const double gamma = t.pt / 1.777;
    t.flightLength = rng.exponential(gamma * kTauCTau);
    const int products = mode->charged + mode->pi0;
    std::vector<double> fractions;
    splitFractions(rng, products, 1.0, fractions);
    // Decay products are collimated: the opening angle shrinks as mass / pT.
    const double spread = mode->massScale / t.pt;
    const int tauCharge = rng.bernoulli(0.5) ? 1 : -1;
    for (int k = 0; k < products; ++k) {
      const double angle = spread * std::abs(rng.normal()) * 1.2, direction = rng.uniform(-kPi, kPi);
      const double deta = angle * std::cos(direction), dphi = angle * std::sin(direction);
      const double pt = t.pt * fractions[k];
      if (k < mode->charged) {
        Particle p;
        p.pt = pt, p.deta = deta, p.dphi = dphi, p.type = kPfChargedHadron;
        p.charge = mode->charged == 1 ? tauCharge : (k == 0 ? -tauCharge : tauCharge);
        p.dxy = (rng.bernoulli(0.5) ? 1 : -1) * rng.exponential(0.6 * kTauCTau);
        p.displaced = true;
        p.hcalFraction = rng.uniform(0.35, 1.0), p.caloFraction = clamp(rng.normal(0.9, 0.25), 0.05, 2.0);
        out.push_back(p);
      } else {  // pi0 -> two photons; some convert into an e+e- pair bent apart in phi
        const double z = rng.uniform(0.2, 0.8);
        for (int side = 0; side < 2; ++side) {
          Particle p;
          p.pt = pt * (side ? 1 - z : z);
          p.deta = deta + rng.normal(0, 0.25 * spread), p.dphi = dphi + rng.normal(0, 0.4 * spread);
          p.type = kPfPhoton, p.caloFraction = 1, p.hcalFraction = rng.uniform(0, 0.05);
          if (rng.bernoulli(0.08)) {
            p.type = kPfElectron;
            p.charge = rng.bernoulli(0.5) ? 1 : -1;
            p.dphi += p.charge * rng.uniform(0.005, 0.04);
          }
          out.push_back(p);
        }
      }
    }
    if (rng.bernoulli(0.04)) {  // a K0L among the products
      Particle p;
      p.pt = 0.1 * t.pt * rng.uniform(), p.deta = rng.normal(0, spread), p.dphi = rng.normal(0, spread);
      p.type = kPfNeutralHadron, p.hcalFraction = 1;
      out.push_back(p);
    }
  }

  void makeJet(Rng& rng, Truth& t, std::vector<Particle>& out) const {
    const double flavour = rng.uniform();
    const bool gluon = flavour < 0.4;
    t.heavyFlavour = flavour > 0.85;
    t.fake = rng.bernoulli(0.10);  // narrow, tau-like jets: the hard background
    double mean = (4.0 + 3.5 * std::log(t.pt / 10.0)) * (gluon ? 1.6 : 1.0);
    double width = (0.04 + 0.8 / std::sqrt(t.pt)) * (gluon ? 1.35 : 1.0);
    double hardness = gluon ? 1.3 : 1.8;
    if (t.fake) {
      mean = 1.0 + rng.poisson(2.0);
      width = 1.1 / t.pt + 0.01;
      hardness = 2.5;
    }
    const int n = std::max(1, rng.poisson(mean)) + (t.fake ? 0 : 1);
    std::vector<double> fractions;
    splitFractions(rng, n, hardness, fractions);
    std::sort(fractions.rbegin(), fractions.rend());
    if (t.heavyFlavour) t.flightLength = rng.exponential(0.045 * t.pt / 5.3);
    for (int k = 0; k < n; ++k) {
      Particle p;
      p.pt = t.pt * fractions[k];
      const double angle = k == 0 ? rng.exponential(0.005) : width * std::abs(rng.normal()) * (1 + 0.5 * k / n);
      const double direction = rng.uniform(-kPi, kPi);
      p.deta = angle * std::cos(direction), p.dphi = angle * std::sin(direction);
      const double kind = k == 0 ? 0.0 : rng.uniform();  // the leading particle is a charged hadron
      if (kind < 0.62) {
        p.type = kPfChargedHadron, p.charge = rng.bernoulli(0.5) ? 1 : -1;
        p.hcalFraction = rng.uniform(0.3, 1.0), p.caloFraction = clamp(rng.normal(0.85, 0.3), 0.05, 2.5);
        if (t.heavyFlavour && rng.bernoulli(0.5)) {
          p.dxy = (rng.bernoulli(0.8) ? 1 : -1) * rng.exponential(0.02);
          p.displaced = true;
        }
      } else if (kind < 0.87) {
        p.type = kPfPhoton, p.hcalFraction = rng.uniform(0, 0.08);
      } else if (kind < 0.985) {
        p.type = kPfNeutralHadron, p.hcalFraction = 1;
      } else {
        p.type = rng.bernoulli(0.5) ? kPfElectron : kPfMuon;
        p.charge = rng.bernoulli(0.5) ? 1 : -1;
        p.caloFraction = p.type == kPfMuon ? rng.uniform(0.01, 0.1) : rng.uniform(0.8, 1.1);
      }
      out.push_back(p);
    }
    if (t.heavyFlavour && rng.bernoulli(0.3)) {  // semileptonic b decay: a non-isolated lepton
      Particle p;
      p.pt = t.pt * rng.uniform(0.05, 0.4);
      p.deta = rng.normal(0, width), p.dphi = rng.normal(0, width);
      p.type = rng.bernoulli(0.5) ? kPfMuon : kPfElectron;
      p.charge = rng.bernoulli(0.5) ? 1 : -1;
      p.dxy = rng.exponential(0.02), p.displaced = true;
      p.caloFraction = p.type == kPfMuon ? rng.uniform(0.01, 0.1) : rng.uniform(0.8, 1.1);
      out.push_back(p);
    }
  }

  void makeElectron(Rng& rng, Truth& t, std::vector<Particle>& out) const {
    const int charge = rng.bernoulli(0.5) ? 1 : -1;
    t.fake = rng.bernoulli(0.08);  // hadronic leakage: reconstructed as a charged hadron
    const int brems = rng.poisson(1.3);
    const double kept = brems ? rng.uniform(0.55, 0.95) : 1.0;
    Particle e;
    e.pt = t.pt * kept, e.deta = rng.normal(0, 0.002), e.dphi = rng.normal(0, 0.002);
    e.type = t.fake ? kPfChargedHadron : kPfElectron, e.charge = charge;
    e.caloFraction = clamp(rng.normal(1.0, 0.08), 0.5, 1.5);
    e.hcalFraction = t.fake ? rng.uniform(0.15, 0.6) : rng.exponential(0.01);
    e.dxy = rng.normal(0, 0.002);
    out.push_back(e);
    std::vector<double> fractions;
    if (brems) splitFractions(rng, brems, 1.0, fractions);
    for (int k = 0; k < brems; ++k) {  // bremsstrahlung photons along the bending direction
      Particle p;
      p.pt = t.pt * (1 - kept) * fractions[k];
      p.deta = rng.normal(0, 0.004), p.dphi = -charge * rng.uniform(0.005, 0.2) * std::min(1.0, 40.0 / t.pt + 0.2);
      p.type = kPfPhoton, p.hcalFraction = rng.exponential(0.01);
      out.push_back(p);
    }
  }

  void makeMuon(Rng& rng, Truth& t, std::vector<Particle>& out) const {
    t.fake = rng.bernoulli(0.04);  // reconstructed as a charged hadron with a calorimeter deposit
    Particle m;
    m.pt = t.pt, m.deta = rng.normal(0, 0.001), m.dphi = rng.normal(0, 0.001);
    m.type = t.fake ? kPfChargedHadron : kPfMuon, m.charge = rng.bernoulli(0.5) ? 1 : -1;
    m.caloFraction = t.fake ? rng.uniform(0.05, 0.4) : rng.uniform(0.005, 0.06);
    m.hcalFraction = rng.uniform(0.3, 0.9);
    m.dxy = rng.normal(0, 0.0015);
    out.push_back(m);
    if (rng.bernoulli(0.1)) {  // final-state radiation
      Particle p;
      p.pt = t.pt * rng.uniform(0.02, 0.2), p.deta = rng.normal(0, 0.02), p.dphi = rng.normal(0, 0.02);
      p.type = kPfPhoton;
      out.push_back(p);
    }
  }

  /// Underlying event (from the primary vertex) and pileup, uniform out to dR 0.8.
  void addSoftParticles(Rng& rng, const Truth& t, std::vector<Particle>& out) const {
    struct Species {
      int type;
      double perVertex, underlying, ptMin, ptMean;
    };
    static constexpr Species kSpecies[] = {{kPfChargedHadron, 0.95, 8.5, 0.5, 0.7},
                                           {kPfPhoton, 0.70, 5.0, 0.5, 0.6},
                                           {kPfNeutralHadron, 0.12, 1.0, 1.0, 1.5}};
    const double forward = std::abs(t.eta) > 2.0 ? 0.02 : 0.002;  // HF-like towers at the edge
    for (const auto& s : kSpecies) {
      for (int origin = 1; origin <= 2; ++origin) {
        const double mean = origin == 1 ? s.underlying : s.perVertex * t.pileup;
        const int n = rng.poisson(mean);
        for (int k = 0; k < n; ++k) {
          Particle p;
          const double radius = 0.8 * std::sqrt(rng.uniform()), direction = rng.uniform(-kPi, kPi);
          p.deta = radius * std::cos(direction), p.dphi = radius * std::sin(direction);
          p.pt = s.ptMin + rng.exponential(s.ptMean);
          p.type = s.type;
          p.origin = origin == 1 ? Particle::kUnderlying : Particle::kPileup;
          if (s.type == kPfChargedHadron) {
            p.charge = rng.bernoulli(0.5) ? 1 : -1;
            p.dz = origin == 2 ? rng.normal(0, 4.5) : rng.normal(0, 0.01);
            p.dxy = rng.normal(0, 0.004 + 0.01 / p.pt);
            p.hcalFraction = rng.uniform(0.2, 1.0), p.caloFraction = clamp(rng.normal(0.8, 0.35), 0.0, 3.0);
          } else if (s.type == kPfPhoton) {
            p.hcalFraction = rng.uniform(0, 0.1);
            if (rng.bernoulli(forward)) p.type = kPfHfEm;
          } else {
            p.hcalFraction = 1;
            if (rng.bernoulli(forward)) p.type = kPfHfHadronic;
          }
          out.push_back(p);
        }
      }
    }
  }

  // ---- one candidate ------------------------------------------------------------------------

  struct Scratch {
    std::vector<Particle> particles;
    std::vector<float> row;
  };

  void candidate(std::int64_t index, CandidateBlock& block, Scratch& s) const {
    Rng rng(streamSeed(config.seed, static_cast<std::uint64_t>(index)));
    Truth t;
    const double u = rng.uniform();
    t.label = kJet;
    for (int k = 0; k < 4; ++k)
      if (u < cumulativeFraction[k]) {
        t.label = k;
        break;
      }
    const double targetPt = config.pt_min * std::pow(config.pt_max / config.pt_min, rng.uniform());
    t.pt = targetPt;
    t.eta = rng.uniform(-config.eta_max, config.eta_max);
    t.phi = rng.uniform(-kPi, kPi);
    // Pileup varies event to event with a long tail (busy bunch crossings).
    t.pileup = config.pileup * rng.logNormal(1.0, 0.28) * (rng.bernoulli(0.02) ? rng.uniform(1.4, 2.4) : 1.0);

    auto& parts = s.particles;
    parts.clear();
    switch (t.label) {
      case kTau: makeTau(rng, t, parts); break;
      case kJet: makeJet(rng, t, parts); break;
      case kElectron: makeElectron(rng, t, parts); break;
      default: makeMuon(rng, t, parts); break;
    }
    const std::size_t nSignal = parts.size();
    addSoftParticles(rng, t, parts);

    // The candidate axis is its leading charged particle; positions are relative to it.
    std::size_t lead = 0;
    for (std::size_t k = 0; k < nSignal; ++k)
      if (parts[k].isCharged() && (!parts[lead].isCharged() || parts[k].pt > parts[lead].pt)) lead = k;
    const double axisEta = parts[lead].deta, axisPhi = parts[lead].dphi;
    for (std::size_t k = 0; k < nSignal; ++k) parts[k].deta -= axisEta, parts[k].dphi -= axisPhi;
    for (auto& p : parts) p.updateDr();
    parts.erase(std::remove_if(parts.begin(), parts.end(), [](const Particle& p) { return p.r >= 0.8; }), parts.end());

    // Reconstruction: HPS-like signal cone around the leading charged particle.
    const double signalCone = clamp(3.0 / t.pt, 0.05, 0.1);
    double sigPt = 0;
    for (std::size_t k = 0; k < parts.size(); ++k) {
      const auto& p = parts[k];
      if (p.origin == Particle::kSignal && p.r < signalCone + (p.type == kPfPhoton ? 0.05 : 0.0)) sigPt += p.pt;
    }
    // Scale signal particles so the reconstructed pT follows the requested spectrum.
    const double scale = sigPt > 0 ? targetPt / sigPt : 1.0;
    for (auto& p : parts)
      if (p.origin == Particle::kSignal) p.pt *= scale;
    t.pt = targetPt;

    fillCandidate(rng, t, parts, signalCone, block);
  }

  void fillCandidate(Rng& rng, const Truth& t, std::vector<Particle>& parts, double signalCone,
                     CandidateBlock& block) const {
    // Leading charged particle (the axis) and signal content.
    int lead = -1;
    for (std::size_t k = 0; k < parts.size(); ++k)
      if (parts[k].isCharged() && parts[k].origin == Particle::kSignal && (lead < 0 || parts[k].pt > parts[lead].pt))
        lead = static_cast<int>(k);
    if (lead < 0)  // no charged signal particle survived: take the hardest charged one
      for (std::size_t k = 0; k < parts.size(); ++k)
        if (parts[k].isCharged() && (lead < 0 || parts[k].pt > parts[lead].pt)) lead = static_cast<int>(k);

    int nCharged = 0, nPhotons = 0, charge = 0;
    double px = 0, py = 0, pz = 0, energy = 0, emEnergy = 0, sumE = 0;
    double chargedIso03 = 0, chargedIso05 = 0, neutralIso03 = 0, neutralIso05 = 0, neutralWeighted = 0,
           neutralWeighted03 = 0, puSum = 0, photonsOutside = 0, footprint = 0;
    double wDetaStrip = 0, wDphiStrip = 0, wStrip = 0, wDrSignal = 0, wSignal = 0, wDrIso = 0, wIso = 0;
    for (auto& p : parts) {
      const double dr = p.r;
      const bool inSignal = p.origin == Particle::kSignal || p.pt > 5.0;
      const bool isPhotonLike = p.type == kPfPhoton || p.type == kPfElectron;
      const double stripCone = signalCone + 0.05;
      if (inSignal && p.isCharged() && dr < signalCone) {
        ++nCharged;
        charge += p.charge;
      } else if (inSignal && isPhotonLike && dr < stripCone) {
        ++nPhotons;
        wDetaStrip += p.pt * std::abs(p.deta), wDphiStrip += p.pt * std::abs(p.dphi), wStrip += p.pt;
      } else if (dr < 0.5) {
        const bool pileup = p.origin == Particle::kPileup;
        if (p.isCharged()) {
          if (pileup && std::abs(p.dz) > 0.2) {
            puSum += p.pt;
          } else {
            chargedIso05 += p.pt;
            if (dr < 0.3) chargedIso03 += p.pt;
          }
        } else {
          const double weight = pileup ? 0.2 : 0.9;
          neutralIso05 += p.pt, neutralWeighted += weight * p.pt;
          if (dr < 0.3) neutralIso03 += p.pt, neutralWeighted03 += weight * p.pt;
          if (isPhotonLike && dr < stripCone + 0.05) photonsOutside += p.pt;
        }
        wDrIso += p.pt * dr, wIso += p.pt;
        if (dr < 0.1) footprint += 0.1 * p.pt;
      } else if (p.isCharged() && p.origin == Particle::kPileup && dr < 0.8) {
        puSum += p.pt;
      }
      if ((inSignal && p.isCharged() && dr < signalCone) || (inSignal && isPhotonLike && dr < stripCone)) {
        const double mass = p.isCharged() && p.type != kPfElectron ? kPionMass : 0.0;
        const double eta = t.eta + p.deta, phi = t.phi + p.dphi;
        const double ppx = p.pt * std::cos(phi), ppy = p.pt * std::sin(phi), ppz = p.pt * std::sinh(eta);
        const double e = std::sqrt(ppx * ppx + ppy * ppy + ppz * ppz + mass * mass);
        px += ppx, py += ppy, pz += ppz, energy += e;
        wDrSignal += p.pt * dr, wSignal += p.pt;
        const double em = p.type == kPfPhoton || p.type == kPfElectron ? 1.0 : (1.0 - p.hcalFraction) * p.caloFraction;
        emEnergy += em * e, sumE += e;
      }
    }
    nCharged = std::max(1, std::min(nCharged, 3));
    const double recoPt = std::sqrt(px * px + py * py);
    const double mass = std::sqrt(std::max(0.0, energy * energy - px * px - py * py - pz * pz));

    // A secondary vertex needs three tracks; its flight length follows the true decay length.
    const bool hasSv = nCharged == 3 && rng.bernoulli(t.label == kTau ? 0.92 : 0.7);
    double flight[3] = {0, 0, 0};
    const double flightLength = hasSv ? t.flightLength + rng.normal(0, 0.015) : 0.0;
    if (hasSv) {
      const double theta = 2 * std::atan(std::exp(-t.eta));
      flight[0] = flightLength * std::sin(theta) * std::cos(t.phi);
      flight[1] = flightLength * std::sin(theta) * std::sin(t.phi);
      flight[2] = flightLength * std::cos(theta);
    }

    // ---- global token
    if (globalIndex >= 0) {
      auto& m = block.collections[globalIndex];
      float* row = rowBuffer(m);
      row[g.particle_type] = kGlobalToken;
      row[g.tau_pt] = static_cast<float>(t.pt);
      row[g.tau_eta] = static_cast<float>(t.eta);
      row[g.tau_mass] = static_cast<float>(mass);
      row[g.tau_E_over_pt] = static_cast<float>(recoPt > 0 ? energy / recoPt : std::cosh(t.eta));
      row[g.tau_charge] = static_cast<float>(charge == 0 ? (rng.bernoulli(0.5) ? 1 : -1) : charge);
      row[g.tau_chargedIsoPtSum] = static_cast<float>(chargedIso05);
      row[g.tau_chargedIsoPtSumdR03_over_dR05] = static_cast<float>(chargedIso05 > 0 ? chargedIso03 / chargedIso05 : 0);
      row[g.tau_footprintCorrection] = static_cast<float>(footprint);
      row[g.tau_neutralIsoPtSum] = static_cast<float>(neutralIso05);
      row[g.tau_neutralIsoPtSumWeight_over_neutralIsoPtSum] =
          static_cast<float>(neutralIso05 > 0 ? neutralWeighted / neutralIso05 : 0);
      row[g.tau_neutralIsoPtSumWeightdR03_over_neutralIsoPtSum] =
          static_cast<float>(neutralIso05 > 0 ? neutralWeighted03 / neutralIso05 : 0);
      row[g.tau_neutralIsoPtSumdR03_over_dR05] = static_cast<float>(neutralIso05 > 0 ? neutralIso03 / neutralIso05 : 0);
      row[g.tau_photonPtSumOutsideSignalCone] = static_cast<float>(photonsOutside);
      row[g.tau_puCorrPtSum] = static_cast<float>(puSum);

      row[g.tau_hasSecondaryVertex] = hasSv;
      if (hasSv) {
        row[g.tau_flightLength_x] = static_cast<float>(flight[0]);
        row[g.tau_flightLength_y] = static_cast<float>(flight[1]);
        row[g.tau_flightLength_z] = static_cast<float>(flight[2]);
        row[g.tau_flightLength_sig] = static_cast<float>(flightLength / (0.015 + 0.05 * std::abs(flightLength)));
      }
      const Particle* leadP = lead >= 0 ? &parts[lead] : nullptr;
      const bool hasTrack = leadP && rng.bernoulli(0.985);
      row[g.tau_dxy_valid] = hasTrack;
      const double dxyErr = 0.0015 + 0.01 / std::max(1.0, leadP ? leadP->pt : 1.0);
      if (hasTrack) {
        const double dxy = leadP->dxy + rng.normal(0, dxyErr);
        const double dzRes = rng.normal(0, 2 * dxyErr);
        row[g.tau_dxy] = static_cast<float>(dxy);
        row[g.tau_dxy_sig] = static_cast<float>(std::abs(dxy) / dxyErr);
        row[g.tau_ip3d] = static_cast<float>(std::sqrt(dxy * dxy + dzRes * dzRes));
        row[g.tau_ip3d_sig] = static_cast<float>(std::sqrt(dxy * dxy + dzRes * dzRes) / (1.4 * dxyErr));
      }
      const double dz = leadP ? leadP->dz + rng.normal(0, 0.01) : 0.0;
      row[g.tau_dz] = static_cast<float>(dz);
      const bool dzValid = hasTrack && rng.bernoulli(0.97);
      row[g.tau_dz_sig_valid] = dzValid;
      if (dzValid) row[g.tau_dz_sig] = static_cast<float>(std::abs(dz) / 0.01);
      row[g.rho] = static_cast<float>(std::max(0.0, 0.55 * t.pileup + rng.normal(0, 1.5)));
      row[g.tau_n_charged_prongs] = static_cast<float>(nCharged);
      row[g.tau_n_neutral_prongs] = static_cast<float>(std::min(2, (nPhotons + 1) / 2));
      row[g.tau_pt_weighted_deta_strip] = static_cast<float>(wStrip > 0 ? wDetaStrip / wStrip : 0);
      row[g.tau_pt_weighted_dphi_strip] = static_cast<float>(wStrip > 0 ? wDphiStrip / wStrip : 0);
      row[g.tau_pt_weighted_dr_signal] = static_cast<float>(wSignal > 0 ? wDrSignal / wSignal : 0);
      row[g.tau_pt_weighted_dr_iso] = static_cast<float>(wIso > 0 ? wDrIso / wIso : 0);
      row[g.tau_e_ratio] = static_cast<float>(sumE > 0 ? clamp(emEnergy / sumE + rng.normal(0, 0.03), 0, 1.2) : 0);
      // The Gottfried-Jackson angle difference exists for three-prong candidates with a vertex.
      row[g.tau_gj_angle_diff_valid] = hasSv;
      if (hasSv)
        row[g.tau_gj_angle_diff] =
            static_cast<float>(t.label == kTau ? rng.normal(-0.01, 0.01) : rng.exponential(0.04) - 0.01);
      row[g.tau_n_photons] = static_cast<float>(nPhotons);
      row[g.tau_emFraction] = static_cast<float>(sumE > 0 ? clamp(emEnergy / sumE + rng.normal(0, 0.05), 0, 1) : 0);
      const double absEta = std::abs(t.eta);
      row[g.tau_inside_ecal_crack] = absEta > 1.444 && absEta < 1.566;
      const bool gsf = leadP && leadP->type == kPfElectron;
      row[g.tau_leadingTrackNormChi2] = static_cast<float>(leadP ? (gsf ? rng.logNormal(2.5, 0.5) : rng.logNormal(0.9, 0.35)) : 0);
      row[g.tau_leadChargedCand_etaAtEcalEntrance_minus_tau_eta] =
          static_cast<float>((leadP ? leadP->deta : 0.0) + rng.normal(0, gsf ? 0.01 : 0.003));
      commitRow(m);
      m.closeCandidate();
    }

    // ---- PF candidates
    if (pfIndex >= 0) {
      auto& m = block.collections[pfIndex];
      for (std::size_t k = 0; k < parts.size(); ++k) fillPf(rng, t, parts[k], static_cast<int>(k) == lead, m, flight);
      m.closeCandidate();
    }

    // ---- RECO electrons and muons
    if (eleIndex >= 0) {
      auto& m = block.collections[eleIndex];
      if (t.label == kElectron && rng.bernoulli(0.97)) fillElectron(rng, t, parts[0], t.fake, true, m);
      const double extraMean = t.label == kElectron ? 0.25 : t.label == kJet ? 0.2 : t.label == kTau ? 0.18 : 0.04;
      addExtraLeptons(rng, t, parts, extraMean, m, /*muons=*/false);
      m.closeCandidate();
    }
    if (muonIndex >= 0) {
      auto& m = block.collections[muonIndex];
      if (t.label == kMuon && !(t.fake && rng.bernoulli(0.5))) fillMuon(rng, t, parts[0], t.fake, true, m);
      for (const auto& p : parts)  // muons inside jets (semileptonic decays) are reconstructed too
        if (t.label != kMuon && p.type == kPfMuon && p.pt > 3 && rng.bernoulli(0.9)) fillMuon(rng, t, p, false, true, m);
      const double extraMean = t.label == kMuon ? 0.5 : t.label == kJet ? 0.3 * std::min(2.0, t.pt / 100) : 0.04;
      addExtraLeptons(rng, t, parts, extraMean, m, /*muons=*/true);
      m.closeCandidate();
    }

    block.label.push_back(static_cast<std::int8_t>(t.label));
    block.pt.push_back(static_cast<float>(t.pt));
    block.eta.push_back(static_cast<float>(t.eta));
    block.decay_mode.push_back(static_cast<std::int8_t>(t.decayMode));
  }

  // Rows are filled in a buffer one slot wider than the collection: features that a reduced
  // schema lacks are written to the extra slot and dropped.
  static thread_local std::vector<float> t_row;
  static float* rowBuffer(const TokenMatrix& m) {
    t_row.assign(m.n_features + 1, 0.0f);
    return t_row.data();
  }
  static void commitRow(TokenMatrix& m) { std::copy_n(t_row.data(), m.n_features, m.addRow()); }

  void fillPf(Rng& rng, const Truth& t, const Particle& p, bool isLead, TokenMatrix& m, const double* flight) const {
    float* row = rowBuffer(m);
    const double dr = p.r;
    row[pf.r] = static_cast<float>(dr);
    row[pf.theta] = static_cast<float>(std::atan2(p.dphi, p.deta));
    row[pf.rel_pt] = static_cast<float>(p.pt / t.pt);
    row[pf.particle_type] = static_cast<float>(p.type);
    row[pf.charge] = static_cast<float>(p.charge);
    const bool pileup = p.origin == Particle::kPileup;
    if (p.isCharged()) {
      // CMS conventions: pvAssociationQuality 7 = used in the PV fit (tight), fromPV 3 = PV fit.
      row[pf.pvAssociationQuality] = static_cast<float>(pileup ? (rng.bernoulli(0.7) ? 1 : 5) : (rng.bernoulli(0.85) ? 7 : 6));
      row[pf.fromPV] = static_cast<float>(pileup ? (std::abs(p.dz) > 0.2 ? 0 : 1) : 3);
      const double vx = p.displaced ? p.dxy * 0.7 : rng.normal(0, 0.001), vy = p.displaced ? p.dxy * 0.7 : rng.normal(0, 0.001);
      row[pf.vertex_dx] = static_cast<float>(vx);
      row[pf.vertex_dy] = static_cast<float>(vy);
      row[pf.vertex_z_valid] = 1;
      row[pf.vertex_dz] = static_cast<float>(p.dz + rng.normal(0, 0.005));
      row[pf.vertex_dx_tauFL] = static_cast<float>(vx - flight[0]);
      row[pf.vertex_dy_tauFL] = static_cast<float>(vy - flight[1]);
      row[pf.vertex_dz_tauFL] = static_cast<float>(p.dz - flight[2]);
      // Track details are stored for tracks above ~0.95 GeV (MiniAOD); low-pT tracks lack them.
      const bool details = p.pt > 0.95 || rng.bernoulli(0.2);
      row[pf.hasTrackDetails] = details;
      if (details) {
        const double err = 0.0015 + 0.01 / p.pt;
        const double dxy = p.dxy + rng.normal(0, err);
        row[pf.dxy] = static_cast<float>(dxy);
        row[pf.dxy_sig_valid] = 1;
        row[pf.dxy_sig] = static_cast<float>(std::abs(dxy) / err);
        row[pf.lostInnerHits] = static_cast<float>(p.type == kPfElectron && rng.bernoulli(0.3) ? 1 : (rng.bernoulli(0.05) ? -1 : 0));
        // Hit counts are correlated: layers crossed give hits, hits give the fit's ndof.
        const int pixelLayers = 2 + static_cast<int>(rng.below(3));
        const int stripLayers = 5 + static_cast<int>(rng.below(6));
        const int hits = pixelLayers + stripLayers + static_cast<int>(rng.below(stripLayers));
        row[pf.nPixelHits] = static_cast<float>(std::min(4, pixelLayers + (rng.bernoulli(0.2) ? 1 : 0)));
        row[pf.nHits] = static_cast<float>(hits);
        row[pf.nPixelLayers] = static_cast<float>(pixelLayers);
        row[pf.nStripLayers] = static_cast<float>(stripLayers);
        row[pf.track_ndof_valid] = 1;
        row[pf.track_ndof] = static_cast<float>(2 * hits - 5);
        row[pf.chi2_ndof] = static_cast<float>(p.type == kPfElectron ? rng.logNormal(2.0, 0.5) : rng.logNormal(0.9, 0.35));
      }
      row[pf.dz_valid] = 1;
      row[pf.dz] = static_cast<float>(p.dz + rng.normal(0, 0.01));
      row[pf.dz_sig_valid] = details;
      if (details) row[pf.dz_sig] = static_cast<float>(std::abs(p.dz) / (0.005 + 0.02 / p.pt));
      row[pf.puppiWeight] = static_cast<float>(pileup && std::abs(p.dz) > 0.2 ? 0.0 : 1.0);
    } else {
      row[pf.pvAssociationQuality] = 0;
      row[pf.fromPV] = 0;
      row[pf.puppiWeight] = static_cast<float>(clamp(pileup ? rng.exponential(0.15) : 1 - rng.exponential(0.1), 0, 1));
    }
    const double hcal = p.type == kPfPhoton || p.type == kPfHfEm ? p.hcalFraction
                        : p.type == kPfNeutralHadron || p.type == kPfHfHadronic ? 1.0
                                                                                 : p.hcalFraction;
    row[pf.hcalFraction] = static_cast<float>(clamp(hcal, 0, 1));
    const double calo = p.isCharged() ? p.caloFraction : 1.0;
    row[pf.rawCaloFraction] = static_cast<float>(calo);
    row[pf.rawHcalFraction] = static_cast<float>(calo * clamp(hcal, 0, 1));
    row[pf.tauLeadChargedHadrCand] = isLead;
    commitRow(m);
  }

  void fillElectron(Rng& rng, const Truth& t, const Particle& p, bool leaky, bool real, TokenMatrix& m) const {
    float* row = rowBuffer(m);
    row[ele.r] = static_cast<float>(p.r);
    row[ele.theta] = static_cast<float>(std::atan2(p.dphi, p.deta));
    row[ele.rel_pt] = static_cast<float>((real ? t.pt / std::max(p.pt, 1e-3) : 1.0) * p.pt / t.pt);
    row[ele.particle_type] = kRecoElectron;
    const bool barrel = std::abs(t.eta + p.deta) < 1.479;
    // Genuine electromagnetic showers are narrow and contained; hadrons leak into the HCAL.
    const bool em = real && !leaky;
    const double sieie = barrel ? (em ? rng.normal(0.0095, 0.0008) : rng.normal(0.013, 0.003))
                                : (em ? rng.normal(0.027, 0.003) : rng.normal(0.035, 0.007));
    const double r9 = em ? clamp(rng.normal(0.93, 0.05), 0.3, 1.0) : clamp(rng.normal(0.6, 0.15), 0.1, 1.0);
    const double hoe1 = em ? rng.exponential(0.01) : rng.uniform(0.05, 0.5);
    const double hoe2 = hoe1 * rng.uniform(0.05, 0.4);
    const double e5x5 = p.pt * std::cosh(t.eta) * (em ? rng.uniform(0.8, 0.98) : rng.uniform(0.3, 0.8));
    const double e2x5 = e5x5 * (em ? rng.uniform(0.85, 0.98) : rng.uniform(0.5, 0.9));
    const double e1x5 = e5x5 * (em ? rng.uniform(0.6, 0.85) : rng.uniform(0.3, 0.7));
    const bool mva = rng.bernoulli(real ? 0.95 : 0.6);
    row[ele.mva_valid] = mva;
    if (mva) {
      row[ele.mvaInput_earlyBrem] = static_cast<float>(rng.poisson(1.0));
      row[ele.mvaInput_lateBrem] = static_cast<float>(rng.poisson(0.5));
      row[ele.mvaInput_sigmaEtaEta] = static_cast<float>(sieie * rng.uniform(0.9, 1.1));
      row[ele.mvaInput_hadEnergy] = static_cast<float>(hoe1 * e5x5);
      row[ele.mvaInput_deltaEta] = static_cast<float>(rng.normal(0, em ? 0.003 : 0.01));
    }
    const double sipip = sieie * rng.uniform(0.8, 1.3);
    row[ele.sigmaEtaEta] = static_cast<float>(sieie * 1.02);
    row[ele.sigmaIetaIeta] = static_cast<float>(sieie);
    row[ele.sigmaIphiIphi] = static_cast<float>(sipip);
    row[ele.sigmaIetaIphi] = static_cast<float>(rng.normal(0, 0.2 * sieie * sieie) * 1e2);
    row[ele.e1x5] = static_cast<float>(e1x5);
    row[ele.e2x5Max] = static_cast<float>(e2x5);
    row[ele.e5x5] = static_cast<float>(e5x5);
    row[ele.r9] = static_cast<float>(r9);
    row[ele.hcalDepth1OverEcal] = static_cast<float>(hoe1);
    row[ele.hcalDepth2OverEcal] = static_cast<float>(hoe2);
    row[ele.hcalDepth1OverEcalBc] = static_cast<float>(hoe1 * 0.8);
    row[ele.hcalDepth2OverEcalBc] = static_cast<float>(hoe2 * 0.8);
    const double side = e5x5 * (em ? 0.02 : 0.08);
    row[ele.eLeft] = static_cast<float>(side * rng.uniform(0.5, 1.5));
    row[ele.eRight] = static_cast<float>(side * rng.uniform(0.5, 1.5));
    row[ele.eBottom] = static_cast<float>(side * rng.uniform(0.5, 1.5));
    row[ele.eTop] = static_cast<float>(side * rng.uniform(0.5, 1.5));
    // The full 5x5 variants do not remove noisy crystals: close to, but wider than, the above.
    const double widen = rng.uniform(1.0, 1.08);
    row[ele.full5x5_sigmaEtaEta] = static_cast<float>(sieie * 1.02 * widen);
    row[ele.full5x5_sigmaIetaIeta] = static_cast<float>(sieie * widen);
    row[ele.full5x5_sigmaIphiIphi] = static_cast<float>(sipip * widen);
    row[ele.full5x5_sigmaIetaIphi] = row[ele.sigmaIetaIphi] * static_cast<float>(widen);
    row[ele.full5x5_e1x5] = static_cast<float>(e1x5 * rng.uniform(0.97, 1.0));
    row[ele.full5x5_e2x5Max] = static_cast<float>(e2x5 * rng.uniform(0.97, 1.0));
    row[ele.full5x5_e5x5] = static_cast<float>(e5x5 * rng.uniform(0.98, 1.02));
    row[ele.full5x5_r9] = static_cast<float>(clamp(r9 * rng.uniform(0.97, 1.03), 0, 1));
    row[ele.full5x5_hcalDepth1OverEcal] = static_cast<float>(hoe1 * widen);
    row[ele.full5x5_hcalDepth2OverEcal] = static_cast<float>(hoe2 * widen);
    row[ele.full5x5_hcalDepth1OverEcalBc] = static_cast<float>(hoe1 * 0.8 * widen);
    row[ele.full5x5_hcalDepth2OverEcalBc] = static_cast<float>(hoe2 * 0.8 * widen);
    row[ele.full5x5_eLeft] = row[ele.eLeft] * static_cast<float>(widen);
    row[ele.full5x5_eRight] = row[ele.eRight] * static_cast<float>(widen);
    row[ele.full5x5_eBottom] = row[ele.eBottom] * static_cast<float>(widen);
    row[ele.full5x5_eTop] = row[ele.eTop] * static_cast<float>(widen);
    row[ele.full5x5_e2x5Left] = static_cast<float>(e2x5 * rng.uniform(0.0, 0.1));
    row[ele.full5x5_e2x5Right] = static_cast<float>(e2x5 * rng.uniform(0.0, 0.1));
    row[ele.full5x5_e2x5Bottom] = static_cast<float>(e2x5 * rng.uniform(0.0, 0.1));
    row[ele.full5x5_e2x5Top] = static_cast<float>(e2x5 * rng.uniform(0.0, 0.1));
    commitRow(m);
  }

  void fillMuon(Rng& rng, const Truth& t, const Particle& p, bool poor, bool real, TokenMatrix& m) const {
    float* row = rowBuffer(m);
    row[mu.r] = static_cast<float>(p.r);
    row[mu.theta] = static_cast<float>(std::atan2(p.dphi, p.deta));
    row[mu.rel_pt] = static_cast<float>(p.pt / t.pt * rng.normal(1.0, 0.02));
    row[mu.particle_type] = kRecoMuon;
    const bool good = real && !poor;
    row[mu.segmentCompatibility] = static_cast<float>(good ? clamp(rng.normal(0.9, 0.08), 0, 1) : rng.uniform(0, 0.5));
    row[mu.caloCompatibility] = static_cast<float>(good ? clamp(rng.normal(0.8, 0.15), 0, 1) : rng.uniform(0, 0.6));
    row[mu.rel_pfEcalEnergy] = static_cast<float>(good ? rng.exponential(0.01) : rng.uniform(0.0, 0.5));
    const double err = 0.0015 + 0.01 / std::max(1.0, p.pt);
    const double dxy = p.dxy + rng.normal(0, err);
    row[mu.dxy] = static_cast<float>(dxy);
    row[mu.dxy_sig] = static_cast<float>(std::abs(dxy) / err);
    const bool global = good ? rng.bernoulli(0.97) : rng.bernoulli(0.2);  // only global muons have a combined fit
    row[mu.normalizedChi2_valid] = global;
    if (global) {
      row[mu.normalizedChi2] = static_cast<float>(rng.logNormal(good ? 1.0 : 4.0, 0.4));
      row[mu.numberOfValidHits] = static_cast<float>(good ? 20 + rng.poisson(15) : 5 + rng.poisson(5));
    }
    // Chamber coverage: DT in the barrel, CSC in the endcaps, RPC in both (|eta| < 1.6).
    const double absEta = std::abs(t.eta + p.deta);
    const bool dt = absEta < 1.25, csc = absEta > 0.85, rpc = absEta < 1.6;
    const int stations = good ? 4 : (rng.bernoulli(0.5) ? 1 : 0);
    const double stationEfficiency = good ? 0.93 : 0.5;
    const int matchDt[4] = {mu.n_matches_DT_1, mu.n_matches_DT_2, mu.n_matches_DT_3, mu.n_matches_DT_4};
    const int matchCsc[4] = {mu.n_matches_CSC_1, mu.n_matches_CSC_2, mu.n_matches_CSC_3, mu.n_matches_CSC_4};
    const int matchRpc[4] = {mu.n_matches_RPC_1, mu.n_matches_RPC_2, mu.n_matches_RPC_3, mu.n_matches_RPC_4};
    const int hitsDt[4] = {mu.n_hits_DT_1, mu.n_hits_DT_2, mu.n_hits_DT_3, mu.n_hits_DT_4};
    const int hitsCsc[4] = {mu.n_hits_CSC_1, mu.n_hits_CSC_2, mu.n_hits_CSC_3, mu.n_hits_CSC_4};
    const int hitsRpc[4] = {mu.n_hits_RPC_1, mu.n_hits_RPC_2, mu.n_hits_RPC_3, mu.n_hits_RPC_4};
    for (int s = 0; s < 4; ++s) {
      if (s >= stations) break;
      if (dt && rng.bernoulli(stationEfficiency)) {
        row[matchDt[s]] = static_cast<float>(1 + (rng.bernoulli(0.1) ? 1 : 0));
        row[hitsDt[s]] = static_cast<float>(s < 3 ? 8 + rng.poisson(2) : 4 + rng.poisson(1));
      }
      if (csc && rng.bernoulli(stationEfficiency)) {
        row[matchCsc[s]] = 1;
        row[hitsCsc[s]] = static_cast<float>(4 + rng.poisson(1.5));
      }
      if (rpc && rng.bernoulli(stationEfficiency * 0.9)) {
        row[matchRpc[s]] = 1;
        row[hitsRpc[s]] = static_cast<float>(1 + rng.poisson(0.5));
      }
    }
    commitRow(m);
  }

  /// Additional low-quality RECO leptons: conversions, punch-through, duplicates.
  void addExtraLeptons(Rng& rng, const Truth& t, const std::vector<Particle>& parts, double mean, TokenMatrix& m,
                       bool muons) const {
    const int n = rng.poisson(mean);
    for (int k = 0; k < n && !parts.empty(); ++k) {
      const Particle& host = parts[rng.below(parts.size())];
      if (muons)
        fillMuon(rng, t, host, /*poor=*/true, /*real=*/false, m);
      else
        fillElectron(rng, t, host, /*leaky=*/true, /*real=*/false, m);
    }
  }
};

thread_local std::vector<float> SyntheticGenerator::Impl::t_row;

SyntheticGenerator::SyntheticGenerator(FeatureSchema schema, GeneratorConfig config)
    : m_schema(std::move(schema)), m_config(std::move(config)) {
  m_config.validate();
  m_impl = std::make_unique<Impl>(m_schema, m_config);
}

SyntheticGenerator::~SyntheticGenerator() = default;

CandidateBlock SyntheticGenerator::generate(std::int64_t first, std::int64_t n) const {
  CandidateBlock block;
  for (const auto& c : m_schema.collections) {
    TokenMatrix m;
    m.n_features = static_cast<int>(c.features.size());
    // Typical tokens per candidate (pf ~90, RECO leptons ~0.5): growing the vectors costs more.
    const std::size_t perCandidate = c.per_candidate ? 1 : c.name == "pf" ? 100 : 2;
    m.values.reserve(static_cast<std::size_t>(n) * perCandidate * m.n_features);
    m.offsets.reserve(static_cast<std::size_t>(n) + 1);
    block.collections.push_back(std::move(m));
  }
  Impl::Scratch scratch;
  for (std::int64_t i = first; i < first + n; ++i) m_impl->candidate(i, block, scratch);
  return block;
}

std::vector<std::string> SyntheticGenerator::writeShards(const Progress& progress) const {
  namespace fs = std::filesystem;
  fs::create_directories(m_config.output);
  const std::int64_t total = m_config.candidates;
  const std::int64_t chunk = 2048;
  const int threads = m_config.threads > 0 ? m_config.threads : std::max(1u, std::thread::hardware_concurrency());

  // Workers generate chunks in any order; the writer appends them strictly in order, so the
  // files are identical for any thread count.
  std::vector<std::pair<std::int64_t, std::int64_t>> chunks;  // (first, n), never crossing a shard
  for (std::int64_t shardBegin = 0; shardBegin < total; shardBegin += m_config.shard_size) {
    const std::int64_t shardEnd = std::min(total, shardBegin + m_config.shard_size);
    for (std::int64_t first = shardBegin; first < shardEnd; first += chunk)
      chunks.emplace_back(first, std::min(chunk, shardEnd - first));
  }
  std::mutex mutex;
  std::condition_variable ready;
  std::map<std::size_t, CandidateBlock> done;
  std::atomic<std::size_t> nextChunk{0};
  std::size_t written = 0;
  std::exception_ptr failure;
  const std::size_t maxAhead = static_cast<std::size_t>(threads) * 4;

  auto worker = [&] {
    try {
      for (;;) {
        const std::size_t k = nextChunk++;
        if (k >= chunks.size()) return;
        {  // bound memory: wait while far ahead of the writer
          std::unique_lock lock(mutex);
          ready.wait(lock, [&] { return k < written + maxAhead || failure; });
          if (failure) return;
        }
        CandidateBlock block = generate(chunks[k].first, chunks[k].second);
        std::lock_guard lock(mutex);
        done.emplace(k, std::move(block));
        ready.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(mutex);
      failure = std::current_exception();
      ready.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);

  std::vector<std::string> paths;
  std::unique_ptr<ShardWriter> writer;
  std::int64_t candidatesWritten = 0;
  try {
    ShardWriterOptions options;
    options.compression = m_config.compression;
    options.producer = "tautrain generate (seed " + std::to_string(m_config.seed) + ")";
    for (std::size_t k = 0; k < chunks.size(); ++k) {
      CandidateBlock block;
      {
        std::unique_lock lock(mutex);
        ready.wait(lock, [&] { return done.count(k) || failure; });
        if (failure) std::rethrow_exception(failure);
        block = std::move(done[k]);
        done.erase(k);
      }
      const std::int64_t shard = chunks[k].first / m_config.shard_size;
      if (chunks[k].first % m_config.shard_size == 0) {
        if (writer) writer->close();
        char name[32];
        std::snprintf(name, sizeof(name), "shard-%05lld.h5", static_cast<long long>(shard));
        paths.push_back((fs::path(m_config.output) / name).string());
        writer = std::make_unique<ShardWriter>(paths.back(), m_schema, options);
      }
      writer->append(block);
      candidatesWritten += block.size();
      {
        std::lock_guard lock(mutex);
        ++written;
        ready.notify_all();
      }
      if (progress) progress(candidatesWritten, total);
    }
    if (writer) writer->close();
  } catch (...) {
    {
      std::lock_guard lock(mutex);
      if (!failure) failure = std::current_exception();
      ready.notify_all();
    }
    for (auto& t : pool) t.join();
    throw;
  }
  for (auto& t : pool) t.join();
  return paths;
}

}  // namespace tautrain::data
