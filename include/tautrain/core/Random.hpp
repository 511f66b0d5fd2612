#pragma once
// A small, portable RNG: the same seed gives the same numbers with every compiler and
// standard library (std:: distributions do not), which the generator and batcher rely on.
#include <cmath>
#include <cstdint>

namespace tautrain {

/// SplitMix64 step: turns any 64-bit value into a well-mixed one; used to derive seeds.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Seed of an independent stream for (seed, a, b): e.g. (run seed, epoch, candidate).
constexpr std::uint64_t streamSeed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
  return mix64(mix64(mix64(seed) ^ a) ^ (b * 0xD1B54A32D192ED03ULL));
}

/// xoshiro256++ with portable distributions.
class Rng {
 public:
  using result_type = std::uint64_t;
  explicit Rng(std::uint64_t seed) {
    std::uint64_t s = seed;
    for (auto& word : m_state) {
      s += 0x9E3779B97F4A7C15ULL;
      word = mix64(s);
    }
  }
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }

  result_type operator()() {
    const std::uint64_t result = rotl(m_state[0] + m_state[3], 23) + m_state[0];
    const std::uint64_t t = m_state[1] << 17;
    m_state[2] ^= m_state[0];
    m_state[3] ^= m_state[1];
    m_state[1] ^= m_state[2];
    m_state[0] ^= m_state[3];
    m_state[2] ^= t;
    m_state[3] = rotl(m_state[3], 45);
    return result;
  }

  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return static_cast<std::uint64_t>(uniform() * static_cast<double>(n)); }
  bool bernoulli(double p) { return uniform() < p; }
  double exponential(double mean) { return -mean * std::log1p(-uniform()); }

  /// Standard normal (Marsaglia's polar method: no trigonometry; the second value is kept).
  double normal() {
    if (m_hasSpare) {
      m_hasSpare = false;
      return m_spare;
    }
    double u, v, s;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    m_spare = v * factor;
    m_hasSpare = true;
    return u * factor;
  }
  double normal(double mean, double sigma) { return mean + sigma * normal(); }
  double logNormal(double median, double sigma) { return median * std::exp(sigma * normal()); }

  /// Poisson: inversion for small means, rounded normal for large ones.
  int poisson(double mean) {
    if (mean <= 0) return 0;
    if (mean > 40) {
      const double x = std::round(normal(mean, std::sqrt(mean)));
      return x < 0 ? 0 : static_cast<int>(x);
    }
    const double limit = std::exp(-mean);
    double product = uniform();
    int k = 0;
    while (product > limit) {
      product *= uniform();
      ++k;
    }
    return k;
  }

  /// Fisher-Yates shuffle, identical on every platform (std::shuffle is not).
  template <typename It>
  void shuffle(It first, It last) {
    const auto n = static_cast<std::uint64_t>(last - first);
    for (std::uint64_t i = n; i > 1; --i) {
      const std::uint64_t j = below(i);
      std::swap(first[i - 1], first[j]);
    }
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t m_state[4];
  double m_spare = 0;
  bool m_hasSpare = false;
};

}  // namespace tautrain
