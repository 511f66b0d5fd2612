#include "tautrain/deploy/Runtime.hpp"

#include <algorithm>
#include <iostream>
#include <numeric>
#include <sstream>

#include "tautrain/core/Error.hpp"

#ifdef TAUTRAIN_HAVE_ONNXRUNTIME
#include <onnxruntime_cxx_api.h>
#endif

namespace tautrain::deploy {

GraphInputs graphInputs(const data::FeatureSchema& schema, const data::CandidateBlock& block,
                        const data::TokenPruner* capper, std::int64_t firstCandidate, std::int64_t extraPadding,
                        float paddingValue) {
  GraphInputs inputs;
  const std::int64_t n = block.size();
  inputs.candidates = n;
  std::vector<std::int64_t> kept;
  for (std::size_t c = 0; c < schema.collections.size(); ++c) {
    const auto& coll = schema.collections[c];
    const auto& m = block.collections[c];
    const std::int64_t columns = m.n_features;
    if (coll.per_candidate) {
      GraphInputs::Tensor t{coll.name, {n, columns}, {m.values.begin(), m.values.begin() + n * columns}, {}};
      inputs.tensors.push_back(std::move(t));
      continue;
    }
    std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(n));
    std::int64_t longest = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      auto& r = rows[static_cast<std::size_t>(i)];
      if (capper) {
        capper->select(c, m, i, firstCandidate + i, /*epoch=*/0, r);
      } else {
        r.resize(static_cast<std::size_t>(m.count(i)));
        std::iota(r.begin(), r.end(), m.offsets[i]);
      }
      longest = std::max(longest, static_cast<std::int64_t>(r.size()));
    }
    const std::int64_t slots = longest + extraPadding;
    GraphInputs::Tensor values{coll.name, {n, slots, columns}, {}, {}};
    values.floats.assign(static_cast<std::size_t>(n * slots * columns), paddingValue);
    GraphInputs::Tensor counts{coll.name + "_count", {n}, {}, {}};
    for (std::int64_t i = 0; i < n; ++i) {
      const auto& r = rows[static_cast<std::size_t>(i)];
      for (std::size_t t = 0; t < r.size(); ++t)
        std::copy_n(m.row(r[t]), columns, values.floats.begin() + (i * slots + static_cast<std::int64_t>(t)) * columns);
      counts.int64s.push_back(static_cast<std::int64_t>(r.size()));
    }
    inputs.tensors.push_back(std::move(values));
    inputs.tensors.push_back(std::move(counts));
  }
  return inputs;
}

#ifdef TAUTRAIN_HAVE_ONNXRUNTIME

bool haveOnnxRuntime() { return true; }

namespace {

/// Debian's ONNX Runtime registers the ONNX operator schemas again that Debian's shared libonnx
/// has registered already, and libonnx writes "Schema error: ... already registered" to
/// std::cerr for each of them: hundreds of harmless lines when the first session starts. While
/// it lives this drops those lines and passes on everything else written to std::cerr.
class DuplicateSchemaLinesDropped {
 public:
  DuplicateSchemaLinesDropped() : m_previous(std::cerr.rdbuf(m_captured.rdbuf())) {}
  ~DuplicateSchemaLinesDropped() {
    std::cerr.rdbuf(m_previous);
    std::istringstream lines(m_captured.str());
    bool afterDuplicate = false;
    for (std::string line; std::getline(lines, line);) {
      const bool duplicate = line.rfind("Schema error: Trying to register schema", 0) == 0 &&
                             line.find("but it is already registered") != std::string::npos;
      if (!duplicate && !(afterDuplicate && line.empty())) std::cerr << line << '\n';
      afterDuplicate = duplicate;
    }
  }
  DuplicateSchemaLinesDropped(const DuplicateSchemaLinesDropped&) = delete;
  DuplicateSchemaLinesDropped& operator=(const DuplicateSchemaLinesDropped&) = delete;

 private:
  std::ostringstream m_captured;
  std::streambuf* m_previous;
};

}  // namespace

struct OnnxRuntimeModel::Session {
  Ort::Env env{ORT_LOGGING_LEVEL_WARNING, "tautrain"};
  Ort::Session session{nullptr};
};

OnnxRuntimeModel::OnnxRuntimeModel(const std::string& path, int threads) {
  const DuplicateSchemaLinesDropped quiet;
  m_session = std::make_unique<Session>();
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(threads);
  options.SetInterOpNumThreads(1);
  try {
    m_session->session = Ort::Session(m_session->env, path.c_str(), options);
  } catch (const Ort::Exception& e) {
    throw DataError(path + ": ONNX Runtime refuses it: " + e.what());
  }
}

OnnxRuntimeModel::~OnnxRuntimeModel() = default;

OnnxRuntimeModel::Outputs OnnxRuntimeModel::run(const GraphInputs& inputs) {
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Ort::Value> values;
  std::vector<const char*> names;
  for (const auto& t : inputs.tensors) {
    names.push_back(t.name.c_str());
    // ONNX Runtime reads the buffers without writing them; its C API takes them non-const.
    if (t.int64s.empty() && !t.floats.empty())
      values.push_back(Ort::Value::CreateTensor<float>(memory, const_cast<float*>(t.floats.data()), t.floats.size(),
                                                       t.shape.data(), t.shape.size()));
    else if (!t.int64s.empty())
      values.push_back(Ort::Value::CreateTensor<std::int64_t>(memory, const_cast<std::int64_t*>(t.int64s.data()),
                                                              t.int64s.size(), t.shape.data(), t.shape.size()));
    else  // no candidates
      values.push_back(Ort::Value::CreateTensor<float>(memory, nullptr, 0, t.shape.data(), t.shape.size()));
  }
  const char* outputNames[] = {"probabilities", "discriminants"};
  std::vector<Ort::Value> outputs;
  try {
    outputs = m_session->session.Run(Ort::RunOptions{nullptr}, names.data(), values.data(), values.size(),
                                     outputNames, 2);
  } catch (const Ort::Exception& e) {
    throw DataError(std::string("ONNX Runtime failed to score a batch: ") + e.what());
  }
  Outputs out;
  const auto copy = [&](Ort::Value& value, std::vector<float>& into) {
    const auto count = value.GetTensorTypeAndShapeInfo().GetElementCount();
    const float* data = value.GetTensorData<float>();
    into.assign(data, data + count);
  };
  copy(outputs[0], out.probabilities);
  copy(outputs[1], out.discriminants);
  TAUTRAIN_CHECK(out.probabilities.size() == static_cast<std::size_t>(4 * inputs.candidates), DataError,
                 "ONNX Runtime returned ", out.probabilities.size(), " probabilities for ", inputs.candidates,
                 " candidates");
  return out;
}

std::string OnnxRuntimeModel::version() { return std::string("ONNX Runtime ") + Ort::GetVersionString(); }

#else

bool haveOnnxRuntime() { return false; }

struct OnnxRuntimeModel::Session {};

OnnxRuntimeModel::OnnxRuntimeModel(const std::string& path, int) {
  throw ConfigError("", "scoring " + path +
                            " with ONNX Runtime (export --check, bench onnx) needs a build with it (Debian 13's "
                            "libonnxruntime-dev); this build has none");
}

OnnxRuntimeModel::~OnnxRuntimeModel() = default;

OnnxRuntimeModel::Outputs OnnxRuntimeModel::run(const GraphInputs&) { return {}; }

std::string OnnxRuntimeModel::version() { return "no ONNX Runtime"; }

#endif

}  // namespace tautrain::deploy
