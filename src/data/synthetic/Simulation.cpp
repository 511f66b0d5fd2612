#include "Simulation.hpp"

namespace tautrain::data::synthetic {

namespace {

constexpr double kTauCTau = 0.0087;  // cm

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

void makeTau(Rng& rng, Truth& t, std::vector<Particle>& out) {
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

void makeJet(Rng& rng, Truth& t, std::vector<Particle>& out) {
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

void makeElectron(Rng& rng, Truth& t, std::vector<Particle>& out) {
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

void makeMuon(Rng& rng, Truth& t, std::vector<Particle>& out) {
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
void addSoftParticles(Rng& rng, const Truth& t, std::vector<Particle>& out) {
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

}  // namespace

CandidateSimulation::CandidateSimulation(const GeneratorConfig& cfg) : m_config(cfg) {
  double sum = 0;
  for (double f : cfg.class_fractions) sum += f;
  double running = 0;
  for (int k = 0; k < 4; ++k) m_cumulativeFraction[k] = (running += cfg.class_fractions[k] / sum);
}

double CandidateSimulation::simulate(Rng& rng, Truth& t, std::vector<Particle>& parts) const {
  const double u = rng.uniform();
  t.label = kJet;
  for (int k = 0; k < 4; ++k)
    if (u < m_cumulativeFraction[k]) {
      t.label = k;
      break;
    }
  const double targetPt = m_config.pt_min * std::pow(m_config.pt_max / m_config.pt_min, rng.uniform());
  t.pt = targetPt;
  t.eta = rng.uniform(-m_config.eta_max, m_config.eta_max);
  t.phi = rng.uniform(-kPi, kPi);
  // Pileup varies event to event with a long tail (busy bunch crossings).
  t.pileup = m_config.pileup * rng.logNormal(1.0, 0.28) * (rng.bernoulli(0.02) ? rng.uniform(1.4, 2.4) : 1.0);

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
  return signalCone;
}

}  // namespace tautrain::data::synthetic
