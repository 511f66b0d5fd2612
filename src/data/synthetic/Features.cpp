#include "Features.hpp"

#include "tautrain/core/Error.hpp"

namespace tautrain::data::synthetic {

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

// Each collection's columns: a field per feature (its index in the schema's rows), and
// forEach(bind) calling bind("name", field) for every one.
#define TAUTRAIN_DECLARE_COLUMN(name) int name = -1;
#define TAUTRAIN_BIND_COLUMN(name) bind(#name, name);
#define TAUTRAIN_COLUMNS(Struct, FEATURES)                               \
  struct Struct {                                                        \
    FEATURES(TAUTRAIN_DECLARE_COLUMN)                                    \
    template <class Bind>                                                \
    void forEach(Bind bind) { FEATURES(TAUTRAIN_BIND_COLUMN) }           \
  };
TAUTRAIN_COLUMNS(GlobalColumns, TAUTRAIN_GLOBAL_FEATURES)
TAUTRAIN_COLUMNS(PfColumns, TAUTRAIN_PF_FEATURES)
TAUTRAIN_COLUMNS(EleColumns, TAUTRAIN_ELE_FEATURES)
TAUTRAIN_COLUMNS(MuonColumns, TAUTRAIN_MUON_FEATURES)

namespace {

int resolve(const Collection& c, const char* name, std::vector<bool>& covered) {
  const int column = c.find(name);
  if (column < 0) return static_cast<int>(c.features.size());  // scratch slot past the row
  covered[column] = true;
  return column;
}

/// Each column's place in collection `c`; a feature of `c` that no column fills is an error.
template <typename Columns>
Columns resolveColumns(const Collection& c) {
  std::vector<bool> covered(c.features.size(), false);
  Columns columns;
  columns.forEach([&](const char* name, int& slot) { slot = resolve(c, name, covered); });
  for (std::size_t k = 0; k < covered.size(); ++k)
    TAUTRAIN_CHECK_KEY(covered[k], "data.features",
                   "the synthetic generator cannot fill feature '", c.features[k], "' of collection '", c.name, "'");
  return columns;
}

}  // namespace

struct FeatureFiller::Impl {
  int globalIndex = -1, pfIndex = -1, eleIndex = -1, muonIndex = -1;
  GlobalColumns g;
  PfColumns pf;
  EleColumns ele;
  MuonColumns mu;

  explicit Impl(const FeatureSchema& schema) {
    for (std::size_t c = 0; c < schema.collections.size(); ++c) {
      const auto& coll = schema.collections[c];
      if (coll.name == "global") {
        globalIndex = static_cast<int>(c);
        g = resolveColumns<GlobalColumns>(coll);
      } else if (coll.name == "pf") {
        pfIndex = static_cast<int>(c);
        pf = resolveColumns<PfColumns>(coll);
      } else if (coll.name == "ele") {
        eleIndex = static_cast<int>(c);
        ele = resolveColumns<EleColumns>(coll);
      } else if (coll.name == "muon") {
        muonIndex = static_cast<int>(c);
        mu = resolveColumns<MuonColumns>(coll);
      } else {
        throw ConfigError("data.features", "the synthetic generator knows collections global, pf, ele and muon, not '" +
                                               coll.name + "'");
      }
    }
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

thread_local std::vector<float> FeatureFiller::Impl::t_row;

FeatureFiller::FeatureFiller(const FeatureSchema& schema) : m_impl(std::make_unique<Impl>(schema)) {}

FeatureFiller::~FeatureFiller() = default;

void FeatureFiller::fill(Rng& rng, const Truth& t, std::vector<Particle>& parts, double signalCone,
                         CandidateBlock& block) const {
  m_impl->fillCandidate(rng, t, parts, signalCone, block);
}

}  // namespace tautrain::data::synthetic
