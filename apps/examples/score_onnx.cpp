// What a CMSSW or Athena producer does with an exported TauTransformer: load the graph with
// ONNX Runtime, feed it the candidates' shard columns and read the scores. It uses only ONNX
// Runtime's C++ API and HDF5's C API, nothing of tautrain (docs/deployment.md walks through it).
//
//   score_onnx MODEL.onnx SHARD.h5 [CANDIDATES]
//
// prints, per candidate, p_e p_mu p_tau p_jet D_e D_mu D_jet.
#include <hdf5.h>
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

/// A dataset's dimensions.
std::vector<hsize_t> dimensions(hid_t dataset) {
  const hid_t space = H5Dget_space(dataset);
  std::vector<hsize_t> dims(static_cast<std::size_t>(H5Sget_simple_extent_ndims(space)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  H5Sclose(space);
  return dims;
}

/// Rows [begin, end) of a 1-D or 2-D dataset of the shard, converted to T by HDF5.
template <typename T>
std::vector<T> readRows(hid_t file, const std::string& name, hsize_t begin, hsize_t end, hid_t memoryType) {
  const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  if (dataset < 0) throw std::runtime_error("the shard has no dataset " + name);
  auto dims = dimensions(dataset);
  if (end > dims[0]) throw std::runtime_error(name + " has " + std::to_string(dims[0]) + " rows, not " + std::to_string(end));
  const hsize_t columns = dims.size() > 1 ? dims[1] : 1;
  std::vector<T> values((end - begin) * columns);
  const hid_t fileSpace = H5Dget_space(dataset);
  std::vector<hsize_t> start(dims.size(), 0);
  start[0] = begin;
  dims[0] = end - begin;
  H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start.data(), nullptr, dims.data(), nullptr);
  const hid_t memorySpace = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const herr_t status = H5Dread(dataset, memoryType, memorySpace, fileSpace, H5P_DEFAULT, values.data());
  H5Sclose(memorySpace), H5Sclose(fileSpace), H5Dclose(dataset);
  if (status < 0) throw std::runtime_error("cannot read " + name);
  return values;
}

hsize_t rowCount(hid_t file, const std::string& name) {
  const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  if (dataset < 0) throw std::runtime_error("the shard has no dataset " + name);
  const auto rows = dimensions(dataset)[0];
  H5Dclose(dataset);
  return rows;
}

/// The graph's inputs for candidates [0, n): per collection C either C [n, columns] (one token
/// per candidate) or C [n, longest, columns] padded with zeros plus C_count [n].
struct Inputs {
  std::vector<std::string> names;
  std::vector<std::vector<float>> floats;
  std::vector<std::vector<std::int64_t>> counts;
  std::vector<Ort::Value> values;
};

Inputs readInputs(Ort::Session& session, hid_t file, hsize_t n) {
  Inputs in;
  Ort::AllocatorWithDefaultOptions allocator;
  std::vector<std::string> graphInputs;
  for (std::size_t i = 0; i < session.GetInputCount(); ++i)
    graphInputs.push_back(session.GetInputNameAllocated(i, allocator).get());
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  in.floats.reserve(graphInputs.size());
  in.counts.reserve(graphInputs.size());
  for (std::size_t i = 0; i < graphInputs.size(); ++i) {
    const auto& name = graphInputs[i];
    if (name.size() > 6 && name.compare(name.size() - 6, 6, "_count") == 0) continue;  // with its collection
    // The graph's own input shape says how many columns it expects, in the shard's order.
    const auto shape = session.GetInputTypeInfo(i).GetTensorTypeAndShapeInfo().GetShape();
    const auto columns = static_cast<hsize_t>(shape.back());
    const bool ragged = std::find(graphInputs.begin(), graphInputs.end(), name + "_count") != graphInputs.end();
    const auto features = name + "/features";
    if (!ragged) {
      in.floats.push_back(readRows<float>(file, features, 0, n, H5T_NATIVE_FLOAT));
      if (in.floats.back().size() != n * columns)
        throw std::runtime_error(features + " does not have the " + std::to_string(columns) + " columns the graph takes");
      const std::int64_t dims[] = {static_cast<std::int64_t>(n), static_cast<std::int64_t>(columns)};
      in.names.push_back(name);
      in.values.push_back(Ort::Value::CreateTensor<float>(memory, in.floats.back().data(), in.floats.back().size(), dims, 2));
      continue;
    }
    const auto offsets = readRows<std::int64_t>(file, name + "/offsets", 0, n + 1, H5T_NATIVE_INT64);
    const auto rows = readRows<float>(file, features, static_cast<hsize_t>(offsets[0]), static_cast<hsize_t>(offsets[n]),
                                      H5T_NATIVE_FLOAT);
    if (rows.size() != static_cast<std::size_t>(offsets[n] - offsets[0]) * columns)
      throw std::runtime_error(features + " does not have the " + std::to_string(columns) + " columns the graph takes");
    std::int64_t longest = 1;  // at least one row, so that no dimension is 0
    std::vector<std::int64_t> count(n);
    for (hsize_t c = 0; c < n; ++c) longest = std::max(longest, count[c] = offsets[c + 1] - offsets[c]);
    std::vector<float> padded(n * static_cast<hsize_t>(longest) * columns, 0.0f);
    for (hsize_t c = 0; c < n; ++c)
      std::copy_n(rows.begin() + static_cast<std::ptrdiff_t>((offsets[c] - offsets[0]) * static_cast<std::int64_t>(columns)),
                  count[c] * static_cast<std::int64_t>(columns),
                  padded.begin() + static_cast<std::ptrdiff_t>(c * static_cast<hsize_t>(longest) * columns));
    in.floats.push_back(std::move(padded));
    in.counts.push_back(std::move(count));
    const std::int64_t dims[] = {static_cast<std::int64_t>(n), longest, static_cast<std::int64_t>(columns)};
    const std::int64_t countDims[] = {static_cast<std::int64_t>(n)};
    in.names.push_back(name);
    in.values.push_back(Ort::Value::CreateTensor<float>(memory, in.floats.back().data(), in.floats.back().size(), dims, 3));
    in.names.push_back(name + "_count");
    in.values.push_back(
        Ort::Value::CreateTensor<std::int64_t>(memory, in.counts.back().data(), in.counts.back().size(), countDims, 1));
  }
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s MODEL.onnx SHARD.h5 [CANDIDATES]\n", argv[0]);
    return 2;
  }
  try {
    Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "score_onnx");
    Ort::SessionOptions options;
    options.SetIntraOpNumThreads(1);
    Ort::Session session(env, argv[1], options);

    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported below, by name
    const hid_t file = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) throw std::runtime_error(std::string("cannot open ") + argv[2] + " as HDF5");
    hsize_t n = rowCount(file, "global/features");
    if (argc == 4) n = std::min<hsize_t>(n, std::stoull(argv[3]));
    if (n == 0) throw std::runtime_error(std::string(argv[2]) + " holds no candidates");
    auto inputs = readInputs(session, file, n);
    H5Fclose(file);

    std::vector<const char*> names;
    for (const auto& name : inputs.names) names.push_back(name.c_str());
    const char* outputNames[] = {"probabilities", "discriminants"};
    auto outputs = session.Run(Ort::RunOptions{nullptr}, names.data(), inputs.values.data(), names.size(), outputNames, 2);
    const float* p = outputs[0].GetTensorData<float>();
    const float* d = outputs[1].GetTensorData<float>();
    std::printf("candidate p_e p_mu p_tau p_jet D_e D_mu D_jet\n");
    for (hsize_t c = 0; c < n; ++c)
      std::printf("%llu %.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", static_cast<unsigned long long>(c), p[4 * c], p[4 * c + 1],
                  p[4 * c + 2], p[4 * c + 3], d[3 * c], d[3 * c + 1], d[3 * c + 2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "score_onnx: %s\n", e.what());
    return 1;
  }
  return 0;
}
