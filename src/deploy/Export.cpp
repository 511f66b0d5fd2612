#include "tautrain/deploy/Export.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Version.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/Pruning.hpp"
#include "tautrain/data/Scaler.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Checkpoint.hpp"

namespace tautrain::deploy {

namespace {

using Dims = std::vector<std::int64_t>;

onnx::AttributeProto intAttribute(const std::string& name, std::int64_t value) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(value);
  return a;
}

onnx::AttributeProto intsAttribute(const std::string& name, const Dims& values) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (const auto v : values) a.add_ints(v);
  return a;
}

onnx::AttributeProto floatAttribute(const std::string& name, float value) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(value);
  return a;
}

/// Builds a graph node by node; every node has one output, named after the node.
class Graph {
 public:
  explicit Graph(onnx::GraphProto& graph) : m_graph(graph) {}

  std::string op(const std::string& type, const std::vector<std::string>& inputs,
                 std::vector<onnx::AttributeProto> attributes = {}) {
    auto* node = m_graph.add_node();
    const auto name = type + "_" + std::to_string(m_graph.node_size());
    node->set_op_type(type);
    node->set_name(name);
    for (const auto& input : inputs) node->add_input(input);
    node->add_output(name);
    for (auto& a : attributes) *node->add_attribute() = std::move(a);
    return name;
  }

  std::string floats(const std::string& name, const Dims& dims, const std::vector<float>& values) {
    return initializer(name, dims, onnx::TensorProto::FLOAT, values.data(), values.size() * sizeof(float));
  }
  std::string int64s(const std::string& name, const Dims& dims, const std::vector<std::int64_t>& values) {
    return initializer(name, dims, onnx::TensorProto::INT64, values.data(), values.size() * sizeof(std::int64_t));
  }
  std::string bools(const std::string& name, const Dims& dims, const std::vector<std::uint8_t>& values) {
    return initializer(name, dims, onnx::TensorProto::BOOL, values.data(), values.size());
  }
  std::string scalar(float value) { return floats("const_" + std::to_string(m_constants++), {}, {value}); }
  std::string scalar(std::int64_t value) { return int64s("const_" + std::to_string(m_constants++), {}, {value}); }
  std::string axes(const Dims& values) {
    return int64s("axes_" + std::to_string(m_constants++), {static_cast<std::int64_t>(values.size())}, values);
  }

  /// A trained tensor, as float32 in row-major order; stored once however often it is used.
  std::string weight(const std::string& name, const torch::Tensor& tensor) {
    if (!m_weights.insert(name).second) return name;
    const auto t = tensor.detach().to(torch::kCPU, torch::kFloat).contiguous();
    return initializer(name, Dims(t.sizes().begin(), t.sizes().end()), onnx::TensorProto::FLOAT, t.data_ptr<float>(),
                       static_cast<std::size_t>(t.numel()) * sizeof(float));
  }

  void input(const std::string& name, int elementType, const std::vector<std::string>& dims) {
    describe(m_graph.add_input(), name, elementType, dims);
  }
  void output(const std::string& from, const std::string& name, int elementType,
              const std::vector<std::string>& dims) {
    auto* node = m_graph.add_node();
    node->set_op_type("Identity");
    node->set_name(name);
    node->add_input(from);
    node->add_output(name);
    describe(m_graph.add_output(), name, elementType, dims);
  }

 private:
  std::string initializer(const std::string& name, const Dims& dims, int elementType, const void* data,
                          std::size_t bytes) {
    auto* t = m_graph.add_initializer();
    t->set_name(name);
    t->set_data_type(elementType);
    for (const auto d : dims) t->add_dims(d);
    t->set_raw_data(data, bytes);
    return name;
  }
  /// A dimension that is a number ("4") is fixed, any other name is symbolic.
  static void describe(onnx::ValueInfoProto* info, const std::string& name, int elementType,
                       const std::vector<std::string>& dims) {
    info->set_name(name);
    auto* tensor = info->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(elementType);
    auto* shape = tensor->mutable_shape();
    for (const auto& d : dims) {
      auto* dim = shape->add_dim();
      if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
        dim->set_dim_value(std::stoll(d));
      else
        dim->set_dim_param(d);
    }
  }

  onnx::GraphProto& m_graph;
  int m_constants = 0;
  std::set<std::string> m_weights;
};

/// Writes the TauTransformer's eval-mode forward pass (dropout off) into a graph.
class TauTransformerGraph {
 public:
  TauTransformerGraph(Graph& g, const model::TauTransformer& model, const model::ModelConfig& config)
      : m_g(g), m_config(config) {
    for (const auto& p : model->named_parameters(/*recurse=*/true)) m_parameters.emplace(p.key(), p.value());
  }

  /// y = x W^T + b; W^T is stored, so the graph multiplies without transposing.
  std::string linear(const std::string& x, const std::string& prefix) {
    const auto w = m_g.weight(prefix + ".weight_t", parameter(prefix + ".weight").t());
    return m_g.op("Add", {m_g.op("MatMul", {x, w}), m_g.weight(prefix + ".bias", parameter(prefix + ".bias"))});
  }
  /// Exact (erf) GELU, as LibTorch's default: x/2 (1 + erf(x / sqrt 2)).
  std::string gelu(const std::string& x) {
    const auto erf = m_g.op("Erf", {m_g.op("Div", {x, m_g.scalar(static_cast<float>(std::sqrt(2.0)))})});
    return m_g.op("Mul", {m_g.op("Mul", {x, m_g.scalar(0.5f)}), m_g.op("Add", {erf, m_g.scalar(1.0f)})});
  }
  std::string layerNorm(const std::string& x, const std::string& prefix) {
    return m_g.op("LayerNormalization",
                  {x, m_g.weight(prefix + ".weight", parameter(prefix + ".weight")),
                   m_g.weight(prefix + ".bias", parameter(prefix + ".bias"))},
                  {intAttribute("axis", -1), floatAttribute("epsilon", 1e-5f)});
  }
  std::string typeEmbedding(const std::string& types) {
    return m_g.op("Gather", {m_g.weight("type_embedding.weight", parameter("type_embedding.weight")), types},
                  {intAttribute("axis", 0)});
  }

  /// Collection `name`'s embedding: [N, T, features + type] -> [N, T, d_model].
  std::string embed(const std::string& x, const std::string& name) {
    return linear(gelu(linear(x, "embed_" + name + ".0")), "embed_" + name + ".2");
  }

  /// One post-norm encoder block on x [N, L, d]; keyMask [N, 1, 1, L] (true = real token).
  std::string block(const std::string& x, const std::string& keyMask, int l) {
    const auto prefix = "encoder" + std::to_string(l);
    const std::int64_t d = m_config.d_model, heads = m_config.heads, headDim = d / heads;
    const auto qkv = m_g.op("Reshape", {linear(x, prefix + ".attention.qkv"),
                                        m_g.int64s(prefix + ".qkv_shape", {5}, {0, 0, 3, heads, headDim})});
    const auto split = m_g.op("Transpose", {qkv}, {intsAttribute("perm", {2, 0, 3, 1, 4})});  // [3, N, H, L, Dh]
    const auto part = [&](std::int64_t i) { return m_g.op("Gather", {split, m_g.scalar(i)}, {intAttribute("axis", 0)}); };
    const auto q = part(0), k = part(1), v = part(2);
    auto scores = m_g.op("MatMul", {q, m_g.op("Transpose", {k}, {intsAttribute("perm", {0, 1, 3, 2})})});
    scores = m_g.op("Div", {scores, m_g.scalar(static_cast<float>(std::sqrt(static_cast<double>(headDim))))});
    scores = m_g.op("Where", {keyMask, scores, m_g.scalar(-std::numeric_limits<float>::infinity())});
    const auto attended = m_g.op("MatMul", {m_g.op("Softmax", {scores}, {intAttribute("axis", -1)}), v});
    const auto merged = m_g.op("Reshape", {m_g.op("Transpose", {attended}, {intsAttribute("perm", {0, 2, 1, 3})}),
                                           m_g.int64s(prefix + ".merged_shape", {3}, {0, 0, d})});
    const auto h = layerNorm(m_g.op("Add", {x, linear(merged, prefix + ".attention.out")}), prefix + ".norm1");
    const auto ff = linear(gelu(linear(h, prefix + ".ff1")), prefix + ".ff2");
    return layerNorm(m_g.op("Add", {h, ff}), prefix + ".norm2");
  }

  std::string decoder(const std::string& pooled) {
    return linear(gelu(linear(gelu(linear(pooled, "decoder.0")), "decoder.2")), "decoder.4");
  }

 private:
  const torch::Tensor& parameter(const std::string& name) const {
    const auto it = m_parameters.find(name);
    TAUTRAIN_CHECK(it != m_parameters.end(), Error, "the model has no parameter '", name, "' to export");
    return it->second;
  }

  Graph& m_g;
  const model::ModelConfig& m_config;
  std::map<std::string, torch::Tensor> m_parameters;
};

/// The largest float f with f <= limit, so that float x <= f exactly when double(x) <= limit,
/// the comparison of data::TokenPruner.
float floatAtMost(double limit) {
  float f = static_cast<float>(limit);
  if (static_cast<double>(f) > limit) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

struct CollectionTokens {
  std::string values, mask;  ///< [N, T, d_model] embedded tokens, [N, T] bool
};

/// Collection c from its raw input to embedded tokens: padding rows zeroed, the dR cut, the
/// scaler on the continuous columns (0 where a validity flag says invalid), the token type.
CollectionTokens collectionTokens(Graph& g, TauTransformerGraph& net, const data::FeatureSchema& schema,
                                  const data::StandardScaler& scaler, const data::TokenPruner& pruner,
                                  std::size_t c, GraphSignature& signature) {
  const auto& coll = schema.collections[c];
  const auto columns = std::to_string(coll.features.size());
  std::string x, mask;
  if (coll.per_candidate) {
    g.input(coll.name, onnx::TensorProto::FLOAT, {"candidates", columns});
    signature.inputs.push_back(coll.name);
    x = g.op("Unsqueeze", {coll.name, g.axes({1})});
    const auto shape = g.op("Shape", {x}, {intAttribute("start", 0), intAttribute("end", 2)});
    onnx::AttributeProto value;
    value.set_name("value");
    value.set_type(onnx::AttributeProto::TENSOR);
    value.mutable_t()->set_data_type(onnx::TensorProto::BOOL);
    value.mutable_t()->add_dims(1);
    value.mutable_t()->set_raw_data(std::string(1, '\1'));
    mask = g.op("ConstantOfShape", {shape}, {value});
  } else {
    const auto count = coll.name + "_count";
    g.input(coll.name, onnx::TensorProto::FLOAT, {"candidates", coll.name + "_tokens", columns});
    g.input(count, onnx::TensorProto::INT64, {"candidates"});
    signature.inputs.push_back(coll.name);
    signature.inputs.push_back(count);
    const auto tokens = g.op("Squeeze", {g.op("Shape", {coll.name}, {intAttribute("start", 1), intAttribute("end", 2)})});
    const auto position = g.op("Range", {g.scalar(std::int64_t{0}), tokens, g.scalar(std::int64_t{1})});
    mask = g.op("Less", {g.op("Unsqueeze", {position, g.axes({0})}), g.op("Unsqueeze", {count, g.axes({1})})});
    x = coll.name;
    if (const int dr = pruner.drColumn(c); dr >= 0) {
      const auto value = g.op("Gather", {x, g.scalar(std::int64_t{dr})}, {intAttribute("axis", 2)});
      mask = g.op("And", {mask, g.op("LessOrEqual", {value, g.scalar(floatAtMost(pruner.maxDr()))})});
    }
  }
  x = g.op("Where", {g.op("Unsqueeze", {mask, g.axes({2})}), x, g.scalar(0.0f)});

  std::vector<std::int64_t> continuous, flagColumn;
  std::vector<float> scale, shift;
  std::vector<std::uint8_t> alwaysValid;
  const auto validity = coll.validityColumns();
  for (int f = 0; f < static_cast<int>(coll.features.size()); ++f) {
    if (coll.isCategorical(f)) continue;
    continuous.push_back(f);
    scale.push_back(scaler.scale(c, static_cast<std::size_t>(f)));
    shift.push_back(scaler.shift(c, static_cast<std::size_t>(f)));
    flagColumn.push_back(validity[f] < 0 ? f : validity[f]);
    alwaysValid.push_back(validity[f] < 0 ? 1 : 0);
  }
  const std::int64_t n = static_cast<std::int64_t>(continuous.size());
  const auto prefix = "scaler." + coll.name;
  const auto raw = g.op("Gather", {x, g.int64s(prefix + ".columns", {n}, continuous)}, {intAttribute("axis", 2)});
  auto features = g.op("Add", {g.op("Mul", {raw, g.floats(prefix + ".scale", {n}, scale)}),
                               g.floats(prefix + ".shift", {n}, shift)});
  const auto flags = g.op("Gather", {x, g.int64s(prefix + ".flag_columns", {n}, flagColumn)}, {intAttribute("axis", 2)});
  const auto valid = g.op("Or", {g.op("Not", {g.op("Equal", {flags, g.scalar(0.0f)})}),
                                 g.bools(prefix + ".always_valid", {n}, alwaysValid)});
  features = g.op("Where", {valid, features, g.scalar(0.0f)});

  const int typeColumn = coll.typeColumn();
  const auto types =
      typeColumn >= 0
          ? g.op("Cast", {g.op("Gather", {x, g.scalar(std::int64_t{typeColumn})}, {intAttribute("axis", 2)})},
                 {intAttribute("to", onnx::TensorProto::INT64)})
          : g.op("Mul", {g.op("Cast", {mask}, {intAttribute("to", onnx::TensorProto::INT64)}),
                         g.scalar(std::int64_t{data::kGlobalToken})});
  const auto input = g.op("Concat", {features, net.typeEmbedding(types)}, {intAttribute("axis", 2)});
  return {net.embed(input, coll.name), mask};
}

std::string pruningText(const data::PruningConfig& pruning) {
  nlohmann::json j;
  j["max_dr"] = pruning.max_dr;
  j["max_tokens"] = pruning.max_tokens;
  j["in_graph"] = "the dR cut; a max_tokens cap is for the consumer to apply";
  return j.dump();
}

std::string featuresText(const data::FeatureSchema& schema) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& c : schema.collections) j[c.name] = c.features;
  return j.dump();
}

}  // namespace

ExportSummary exportOnnx(const std::string& checkpoint, const std::string& output, bool allowTokenCap) {
  const auto state = train::readCheckpointState(checkpoint);
  const auto run = config::parseRunConfig(state.config_yaml, checkpoint);
  const auto schema = data::FeatureSchema::fromSpec(run.data.features);
  const auto scaler = train::checkpointScaler(state, checkpoint);
  scaler.checkMatches(schema, checkpoint);
  bool capped = false;
  for (const auto& [name, cap] : run.data.pruning.max_tokens) capped = capped || cap > 0;
  TAUTRAIN_CHECK_KEY(!capped || allowTokenCap, "data.pruning.max_tokens",
                     "the model of ", checkpoint,
                     " was trained with a random token cap, which a graph cannot repeat; export with "
                     "--allow-token-cap and apply the cap before ONNX Runtime");
  const data::TokenPruner pruner(schema, run.data.pruning, run.seed);
  auto modelConfig = run.model;
  modelConfig.attention = model::Attention::kReference;  // the same weights either way
  model::TauTransformer model(schema, modelConfig);
  train::restoreCheckpoint(checkpoint, *model, nullptr, torch::kCPU);
  model->eval();

  onnx::ModelProto proto;
  proto.set_ir_version(8);  // ONNX 1.12's, what opset 17 came with
  proto.set_producer_name("tautrain");
  proto.set_producer_version(versionString());
  proto.set_doc_string("TauTransformer of " + checkpoint + "; inputs are shard columns, see docs/deployment.md");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  const std::vector<std::pair<std::string, std::string>> metadata{
      {"tautrain_version", versionString()},
      {"checkpoint", checkpoint},
      {"features", featuresText(schema)},
      {"classes", R"(["e","mu","tau","jet"])"},
      {"discriminants", R"j({"D_e":"p_tau/(p_tau+p_e)","D_mu":"p_tau/(p_tau+p_mu)","D_jet":"p_tau/(p_tau+p_jet)"})j"},
      {"pruning", pruningText(run.data.pruning)},
  };
  for (const auto& [key, value] : metadata) {
    auto* entry = proto.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }

  auto& graphProto = *proto.mutable_graph();
  graphProto.set_name("TauTransformer");
  Graph g(graphProto);
  TauTransformerGraph net(g, model, modelConfig);
  ExportSummary summary;
  std::vector<std::string> tokens, masks;
  for (std::size_t c = 0; c < schema.collections.size(); ++c) {
    const auto embedded = collectionTokens(g, net, schema, scaler, pruner, c, summary.signature);
    tokens.push_back(embedded.values);
    masks.push_back(embedded.mask);
  }
  const auto mask = g.op("Concat", masks, {intAttribute("axis", 1)});           // [N, L]
  const auto tokenMask = g.op("Unsqueeze", {mask, g.axes({2})});                 // [N, L, 1]
  const auto keyMask = g.op("Unsqueeze", {mask, g.axes({1, 2})});               // [N, 1, 1, L]
  auto x = g.op("Where", {tokenMask, g.op("Concat", tokens, {intAttribute("axis", 1)}), g.scalar(0.0f)});
  for (int l = 0; l < modelConfig.layers; ++l) x = net.block(x, keyMask, l);
  const auto pooled = g.op("ReduceSum", {g.op("Where", {tokenMask, x, g.scalar(0.0f)}), g.axes({1})},
                           {intAttribute("keepdims", 0)});
  const auto probabilities = g.op("Softmax", {net.decoder(pooled)}, {intAttribute("axis", 1)});
  const auto tau = g.op("Unsqueeze", {g.op("Gather", {probabilities, g.scalar(std::int64_t{data::kTau})},
                                           {intAttribute("axis", 1)}),
                                      g.axes({1})});
  const auto backgrounds = g.op("Gather", {probabilities, g.int64s("backgrounds", {3}, {data::kElectron, data::kMuon, data::kJet})},
                                {intAttribute("axis", 1)});
  const auto sum = g.op("Add", {tau, backgrounds});
  const auto discriminants =
      g.op("Where", {g.op("Greater", {sum, g.scalar(0.0f)}), g.op("Div", {tau, sum}), g.scalar(0.5f)});
  g.output(probabilities, "probabilities", onnx::TensorProto::FLOAT, {"candidates", "4"});
  g.output(discriminants, "discriminants", onnx::TensorProto::FLOAT, {"candidates", "3"});
  summary.signature.outputs = {"probabilities", "discriminants"};

  try {
    onnx::checker::check_model(proto);
    onnx::ModelProto inferred = proto;
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1));
  } catch (const std::exception& e) {
    throw Error("the ONNX graph of " + checkpoint + " fails libonnx's checks: " + e.what());
  }

  const auto bytes = proto.SerializeAsString();
  io::writeFileAtomic(output, bytes);
  summary.nodes = graphProto.node_size();
  summary.bytes = static_cast<std::int64_t>(bytes.size());
  return summary;
}

namespace {

onnx::ModelProto readModel(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  TAUTRAIN_CHECK(file, DataError, "cannot read ONNX model ", path);
  onnx::ModelProto proto;
  TAUTRAIN_CHECK(proto.ParseFromIstream(&file), DataError, path, " is not an ONNX model");
  return proto;
}

}  // namespace

void checkOnnxFile(const std::string& path) {
  auto proto = readModel(path);
  try {
    onnx::checker::check_model(proto);
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1));
  } catch (const std::exception& e) {
    throw DataError(path + ": " + e.what());
  }
}

std::vector<std::pair<std::string, std::string>> onnxMetadata(const std::string& path) {
  const auto proto = readModel(path);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : proto.metadata_props()) out.emplace_back(entry.key(), entry.value());
  return out;
}

}  // namespace tautrain::deploy
