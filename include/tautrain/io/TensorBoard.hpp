#pragma once
// TensorBoard event logs: TFRecord files of tensorflow.Event messages with scalar summaries.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tautrain::io {

class TfRecordWriter;

/// Writes DIR/events.out.tfevents.<seconds>.<host>.<pid>; TensorBoard reads it while it grows.
class EventWriter {
 public:
  explicit EventWriter(const std::string& directory);
  ~EventWriter();

  void scalar(const std::string& tag, std::int64_t step, double value);
  /// Marks a restart at `step`: TensorBoard drops what earlier files logged at `step` or later.
  void restart(std::int64_t step);
  const std::string& path() const;

 private:
  void write(const std::string& event);
  std::unique_ptr<TfRecordWriter> m_writer;
};

struct ScalarEvent {
  double wall_time = 0;
  std::int64_t step = 0;
  std::string tag;
  double value = 0;
};

struct EventLog {
  std::string file_version;
  std::vector<ScalarEvent> scalars;
  std::vector<std::int64_t> restarts;  ///< steps of SessionLog START events
};

/// Reads an event file back; errors are DataErrors naming the file and record.
EventLog readEvents(const std::string& path);

}  // namespace tautrain::io
