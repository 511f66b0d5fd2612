#include "tautrain/io/TfExample.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <mutex>

#include "io/proto/example.pb.h"
#include "tautrain/core/Log.hpp"

namespace tautrain::io {

namespace {

/// Protobuf prints why a message failed to parse straight to stderr; parse failures become our
/// own errors, so its words go to the debug log instead of flooding the terminal.
void routeProtobufLogs() {
  static std::once_flag once;
  std::call_once(once, [] {
    google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string& message) {
      log::get("protobuf")->debug("{}", message);
    });
  });
}

}  // namespace

std::size_t TfFeature::size() const {
  switch (kind) {
    case Kind::kFloat: return floats.size();
    case Kind::kInt64: return ints.size();
    case Kind::kBytes: return bytes.size();
    case Kind::kNone: break;
  }
  return 0;
}

const char* kindName(TfFeature::Kind kind) {
  switch (kind) {
    case TfFeature::Kind::kFloat: return "float_list";
    case TfFeature::Kind::kInt64: return "int64_list";
    case TfFeature::Kind::kBytes: return "bytes_list";
    case TfFeature::Kind::kNone: break;
  }
  return "empty feature";
}

bool parseExample(std::string_view bytes, TfExample& example) {
  routeProtobufLogs();
  tf::Example message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  example.clear();
  for (const auto& [key, feature] : message.features().feature()) {
    TfFeature& out = example[key];
    switch (feature.kind_case()) {
      case tf::Feature::kFloatList:
        out.kind = TfFeature::Kind::kFloat;
        out.floats.assign(feature.float_list().value().begin(), feature.float_list().value().end());
        break;
      case tf::Feature::kInt64List:
        out.kind = TfFeature::Kind::kInt64;
        out.ints.assign(feature.int64_list().value().begin(), feature.int64_list().value().end());
        break;
      case tf::Feature::kBytesList:
        out.kind = TfFeature::Kind::kBytes;
        out.bytes.assign(feature.bytes_list().value().begin(), feature.bytes_list().value().end());
        break;
      case tf::Feature::KIND_NOT_SET: break;
    }
  }
  return true;
}

std::string serializeExample(const TfExample& example) {
  tf::Example message;
  auto& features = *message.mutable_features()->mutable_feature();
  for (const auto& [key, feature] : example) {
    tf::Feature& out = features[key];
    switch (feature.kind) {
      case TfFeature::Kind::kFloat:
        out.mutable_float_list()->mutable_value()->Assign(feature.floats.begin(), feature.floats.end());
        break;
      case TfFeature::Kind::kInt64:
        out.mutable_int64_list()->mutable_value()->Assign(feature.ints.begin(), feature.ints.end());
        break;
      case TfFeature::Kind::kBytes:
        for (const auto& b : feature.bytes) out.mutable_bytes_list()->add_value(b);
        break;
      case TfFeature::Kind::kNone: break;
    }
  }
  // Map order is unspecified in protobuf; deterministic output makes files reproducible.
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

}  // namespace tautrain::io
