#include "tautrain/io/TensorBoard.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "io/proto/event.pb.h"
#include "tautrain/core/Error.hpp"
#include "tautrain/io/TfRecord.hpp"

namespace tautrain::io {

namespace {

double wallTime() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string hostName() {
  char name[256] = {};
  return ::gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : std::string("localhost");
}

}  // namespace

EventWriter::EventWriter(const std::string& directory) {
  std::filesystem::create_directories(directory);
  // TensorBoard reads a directory's event files in name order. The pid and a per-process count
  // keep writers started in the same second apart (a resumed run, several ranks).
  static std::atomic<int> writers{0};
  const auto name = fmt::format("events.out.tfevents.{:010d}.{}.{}.{:03d}", static_cast<long long>(wallTime()),
                                hostName(), ::getpid(), writers++);
  m_writer = std::make_unique<TfRecordWriter>((std::filesystem::path(directory) / name).string(), false);
  tf::Event event;
  event.set_wall_time(wallTime());
  event.set_file_version("brain.Event:2");
  write(event.SerializeAsString());
}

EventWriter::~EventWriter() {
  try {
    m_writer->close();
  } catch (const Error&) {
    // Every record was flushed as written; a failing close loses nothing.
  }
}

const std::string& EventWriter::path() const { return m_writer->path(); }

void EventWriter::write(const std::string& event) { m_writer->write(event); }

void EventWriter::scalar(const std::string& tag, std::int64_t step, double value) {
  tf::Event event;
  event.set_wall_time(wallTime());
  event.set_step(step);
  auto* summary = event.mutable_summary()->add_value();
  summary->set_tag(tag);
  summary->set_simple_value(static_cast<float>(value));
  write(event.SerializeAsString());
}

void EventWriter::restart(std::int64_t step) {
  tf::Event event;
  event.set_wall_time(wallTime());
  event.set_step(step);
  event.mutable_session_log()->set_status(tf::SessionLog::START);
  write(event.SerializeAsString());
}

EventLog readEvents(const std::string& path) {
  EventLog log;
  TfRecordReader reader(path);
  std::string payload;
  while (reader.next(payload)) {
    tf::Event event;
    TAUTRAIN_CHECK(event.ParseFromString(payload), DataError, path, ": record ", reader.index(),
                   ": not a tensorflow.Event");
    switch (event.what_case()) {
      case tf::Event::kFileVersion: log.file_version = event.file_version(); break;
      case tf::Event::kSessionLog:
        if (event.session_log().status() == tf::SessionLog::START) log.restarts.push_back(event.step());
        break;
      case tf::Event::kSummary:
        for (const auto& value : event.summary().value())
          if (value.value_case() == tf::Summary::Value::kSimpleValue)
            log.scalars.push_back({event.wall_time(), event.step(), value.tag(), value.simple_value()});
        break;
      default: break;
    }
  }
  return log;
}

}  // namespace tautrain::io
