#include "tautrain/data/ExampleCodec.hpp"

#include <cmath>
#include <optional>
#include <set>

#include "tautrain/core/Error.hpp"

namespace tautrain::data {

namespace {

using Kind = io::TfFeature::Kind;

std::string replaceAll(std::string text, const std::string& what, const std::string& with) {
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + with.size()))
    text.replace(pos, what.size(), with);
  return text;
}

/// The numeric list under `key`, checked for length; ints are widened to double.
class NumericList {
 public:
  NumericList(const io::TfExample& example, const std::string& key, const std::string& where) : m_key(key) {
    const auto it = example.find(key);
    TAUTRAIN_CHECK(it != example.end(), DataError, where, ": no feature '", key, "'");
    m_feature = &it->second;
    TAUTRAIN_CHECK(m_feature->kind == Kind::kFloat || m_feature->kind == Kind::kInt64, DataError, where, ": feature '",
                   key, "' is a ", io::kindName(m_feature->kind), ", expected float_list or int64_list");
  }
  std::size_t size() const { return m_feature->size(); }
  double operator[](std::size_t i) const {
    return m_feature->kind == Kind::kFloat ? m_feature->floats[i] : static_cast<double>(m_feature->ints[i]);
  }
  void expectSize(std::size_t n, const std::string& where, const char* what) const {
    TAUTRAIN_CHECK(size() == n, DataError, where, ": feature '", m_key, "' has ", size(), " values, expected ", n, " (",
                   what, ")");
  }
  /// The integer at i; a non-integral float is an error.
  std::int64_t integer(std::size_t i, const std::string& where) const {
    if (m_feature->kind == Kind::kInt64) return m_feature->ints[i];
    const double v = m_feature->floats[i];
    TAUTRAIN_CHECK(std::isfinite(v) && v == std::floor(v) && std::abs(v) < 9e15, DataError, where, ": feature '", m_key,
                   "' value ", i, " is ", v, ", expected an integer");
    return static_cast<std::int64_t>(v);
  }

 private:
  std::string m_key;
  const io::TfFeature* m_feature = nullptr;
};

io::TfFeature floatFeature() { return {Kind::kFloat, {}, {}, {}}; }
io::TfFeature intFeature() { return {Kind::kInt64, {}, {}, {}}; }

}  // namespace

ExampleCodec::ExampleCodec(const FeatureSchema& schema, const TfRecordConfig& mapping)
    : m_schema(&schema), m_mapping(mapping), m_codeOfLabel(kNumClasses) {
  for (int label = 0; label < kNumClasses; ++label) {
    const auto it = mapping.classes.find(kClassNames[label]);
    TAUTRAIN_CHECK_KEY(it != mapping.classes.end(), "data.tfrecord.classes", "has no code for class '",
                       kClassNames[label], "'");
    m_codeOfLabel[label] = it->second;
    m_labelOfCode[it->second] = label;
  }
  std::map<std::string, std::string> owner;  // key -> what it holds, to refuse a key used twice
  const auto claim = [&](const std::string& key, const std::string& what) {
    TAUTRAIN_CHECK_KEY(!key.empty(), "data.tfrecord", "the key of ", what, " is empty");
    const auto [it, fresh] = owner.emplace(key, what);
    TAUTRAIN_CHECK_KEY(fresh, "data.tfrecord", "key '", key, "' would hold both ", it->second, " and ", what);
  };
  claim(mapping.label, "the label");
  claim(mapping.pt, "pt");
  claim(mapping.eta, "eta");
  claim(mapping.decay_mode, "the decay mode");
  if (!mapping.weight.empty()) claim(mapping.weight, "the weight");
  std::set<std::string> used;
  for (const auto& c : schema.collections) {
    CollectionKeys keys;
    if (!c.per_candidate) {
      keys.length = replaceAll(mapping.length_key, "{collection}", c.name);
      claim(keys.length, "the token counts of " + c.name);
    }
    for (std::size_t f = 0; f < c.features.size(); ++f) {
      const std::string name = c.name + "/" + c.features[f];
      const auto explicitKey = mapping.keys.find(name);
      used.insert(name);
      const auto key = explicitKey != mapping.keys.end()
                           ? explicitKey->second
                           : replaceAll(replaceAll(mapping.token_key, "{collection}", c.name), "{feature}", c.features[f]);
      claim(key, "feature " + name);
      keys.features.push_back(key);
      keys.categorical.push_back(c.isCategorical(static_cast<int>(f)));
    }
    m_collections.push_back(std::move(keys));
  }
  for (const auto& item : mapping.keys)
    TAUTRAIN_CHECK_KEY(used.count(item.first), "data.tfrecord.keys." + item.first,
                       "is not a feature of the schema (write collection/feature)");
}

CandidateBlock ExampleCodec::emptyBlock() const {
  CandidateBlock block;
  for (const auto& c : m_schema->collections) {
    TokenMatrix m;
    m.n_features = static_cast<int>(c.features.size());
    block.collections.push_back(std::move(m));
  }
  return block;
}

bool ExampleCodec::hasWeight(const io::TfExample& example) const {
  return !m_mapping.weight.empty() && example.find(m_mapping.weight) != example.end();
}

std::int64_t ExampleCodec::decode(const io::TfExample& example, bool withWeight, CandidateBlock& block,
                                  const std::string& where) const {
  // Everything is checked before anything is appended, so a bad Example leaves the block intact.
  const NumericList label(example, m_mapping.label, where);
  const std::size_t n = label.size();
  TAUTRAIN_CHECK(n > 0, DataError, where, ": feature '", m_mapping.label, "' is empty; an Example holds at least one candidate");
  const NumericList pt(example, m_mapping.pt, where), eta(example, m_mapping.eta, where),
      decayMode(example, m_mapping.decay_mode, where);
  pt.expectSize(n, where, "one per candidate");
  eta.expectSize(n, where, "one per candidate");
  decayMode.expectSize(n, where, "one per candidate");
  TAUTRAIN_CHECK(hasWeight(example) == withWeight, DataError, where, ": ",
                 withWeight ? "has no weight but earlier records do" : "has a weight but earlier records do not");
  std::vector<int> labels(n);
  std::vector<std::int8_t> modes(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto code = label.integer(i, where);
    const auto it = m_labelOfCode.find(code);
    TAUTRAIN_CHECK(it != m_labelOfCode.end(), DataError, where, ": candidate ", i, ": label code ", code,
                   " is not one of data.tfrecord.classes");
    labels[i] = it->second;
    const auto mode = decayMode.integer(i, where);
    TAUTRAIN_CHECK(mode >= -1 && mode <= 127, DataError, where, ": candidate ", i, ": decay mode ", mode,
                   " is out of range");
    modes[i] = static_cast<std::int8_t>(mode);
  }
  std::vector<std::vector<std::int64_t>> lengths(m_collections.size());
  std::vector<std::vector<NumericList>> columns(m_collections.size());
  for (std::size_t c = 0; c < m_collections.size(); ++c) {
    const auto& keys = m_collections[c];
    std::size_t tokens = n;
    if (!keys.length.empty()) {
      const NumericList length(example, keys.length, where);
      length.expectSize(n, where, "one token count per candidate");
      tokens = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto count = length.integer(i, where);
        TAUTRAIN_CHECK(count >= 0 && count <= (std::int64_t{1} << 32), DataError, where, ": candidate ", i, ": '",
                       keys.length, "' is ", count);
        lengths[c].push_back(count);
        tokens += static_cast<std::size_t>(count);
      }
    }
    for (const auto& key : keys.features) {
      columns[c].emplace_back(example, key, where);
      columns[c].back().expectSize(tokens, where, keys.length.empty() ? "one per candidate" : "one per token");
    }
  }
  std::optional<NumericList> weight;
  if (withWeight) {
    weight.emplace(example, m_mapping.weight, where);
    weight->expectSize(n, where, "one per candidate");
  }

  for (std::size_t i = 0; i < n; ++i) {
    block.label.push_back(static_cast<std::int8_t>(labels[i]));
    block.pt.push_back(static_cast<float>(pt[i]));
    block.eta.push_back(static_cast<float>(eta[i]));
    block.decay_mode.push_back(modes[i]);
    if (weight) block.weight.push_back(static_cast<float>((*weight)[i]));
  }
  for (std::size_t c = 0; c < m_collections.size(); ++c) {
    auto& matrix = block.collections[c];
    const auto width = columns[c].size();
    const std::size_t first = matrix.values.size(), tokens = width > 0 ? columns[c][0].size() : 0;
    matrix.values.resize(first + tokens * width);
    for (std::size_t f = 0; f < width; ++f)
      for (std::size_t t = 0; t < tokens; ++t) matrix.values[first + t * width + f] = static_cast<float>(columns[c][f][t]);
    for (std::size_t i = 0; i < n; ++i)
      matrix.offsets.push_back(matrix.offsets.back() + (lengths[c].empty() ? 1 : lengths[c][i]));
  }
  return static_cast<std::int64_t>(n);
}

io::TfExample ExampleCodec::encode(const CandidateBlock& block, std::int64_t begin, std::int64_t end) const {
  io::TfExample example;
  auto& label = example[m_mapping.label] = intFeature();
  auto& pt = example[m_mapping.pt] = floatFeature();
  auto& eta = example[m_mapping.eta] = floatFeature();
  auto& mode = example[m_mapping.decay_mode] = intFeature();
  for (auto i = begin; i < end; ++i) {
    label.ints.push_back(m_codeOfLabel[static_cast<std::size_t>(block.label[i])]);
    pt.floats.push_back(block.pt[i]);
    eta.floats.push_back(block.eta[i]);
    mode.ints.push_back(block.decay_mode[i]);
  }
  if (!block.weight.empty() && !m_mapping.weight.empty())
    example[m_mapping.weight] = {Kind::kFloat, {block.weight.begin() + begin, block.weight.begin() + end}, {}, {}};
  for (std::size_t c = 0; c < m_collections.size(); ++c) {
    const auto& keys = m_collections[c];
    const auto& matrix = block.collections[c];
    if (!keys.length.empty()) {
      auto& length = example[keys.length] = intFeature();
      for (auto i = begin; i < end; ++i) length.ints.push_back(matrix.count(i));
    }
    const auto first = matrix.offsets[begin], last = matrix.offsets[end];
    for (std::size_t f = 0; f < keys.features.size(); ++f) {
      auto& column = example[keys.features[f]] = keys.categorical[f] ? intFeature() : floatFeature();
      for (auto t = first; t < last; ++t) {
        const float v = matrix.row(t)[f];
        if (keys.categorical[f]) column.ints.push_back(static_cast<std::int64_t>(v));
        else column.floats.push_back(v);
      }
    }
  }
  return example;
}

}  // namespace tautrain::data
