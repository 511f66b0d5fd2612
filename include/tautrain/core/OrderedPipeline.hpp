#pragma once
// Work in parallel, results in order: worker threads run tasks in any order, each producing
// numbered items, and the consumer takes the items strictly by number. The loader (a task is a
// window of shards, an item a batch) and the synthetic generator (a task is a chunk of
// candidates, written in order to shards) both stream through it, so their output is the same
// for any number of threads.
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "tautrain/core/Error.hpp"

namespace tautrain {

struct PipelinePlan {
  std::int64_t first_item = 0, end_item = 0;  ///< the consumer takes [first_item, end_item) in order
  std::int64_t first_task = 0, end_task = 0;  ///< the workers run [first_task, end_task)
  /// The task that produces `item`; non-decreasing in item.
  std::function<std::int64_t(std::int64_t item)> task_of = [](std::int64_t item) { return item; };
  /// A task starts only while it is fewer than this many tasks past the consumer's.
  std::int64_t tasks_ahead = 1;
  /// An item is made only while it is fewer than this many items past the consumer's: what
  /// bounds the memory of items made but not yet taken.
  std::int64_t items_ahead = std::numeric_limits<std::int64_t>::max() / 2;
};

template <typename T>
class OrderedPipeline {
 public:
  /// Makes item `item` with make(), once it is within items_ahead of the consumer; false
  /// (nothing made) when the pipeline stops, and the task should return.
  using Emit = std::function<bool(std::int64_t item, const std::function<T()>& make)>;
  /// Runs one task on worker thread `worker` (0 ≤ worker < threads: an index for per-thread
  /// buffers), emitting its items in any order.
  using Task = std::function<void(int worker, std::int64_t task, const Emit& emit)>;

  /// Starts `threads` (at least one) workers. The first exception a task throws stops them all
  /// and is rethrown by next().
  OrderedPipeline(PipelinePlan plan, int threads, Task task)
      : m_plan(std::move(plan)), m_task(std::move(task)), m_nextItem(m_plan.first_item), m_nextTask(m_plan.first_task) {
    const int n = std::max(threads, 1);
    m_liveWorkers = n;
    for (int w = 0; w < n; ++w) m_workers.emplace_back([this, w] { work(w); });
  }
  /// Stops the workers (a task in progress ends at its next emit) and waits for them.
  ~OrderedPipeline() {
    {
      std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_changed.notify_all();
    for (auto& worker : m_workers) worker.join();
  }
  OrderedPipeline(const OrderedPipeline&) = delete;
  OrderedPipeline& operator=(const OrderedPipeline&) = delete;

  /// The next item in order; nullopt after end_item. Rethrows the first task's exception.
  std::optional<T> next() {
    std::unique_lock lock(m_mutex);
    if (m_nextItem >= m_plan.end_item) return std::nullopt;
    m_changed.wait(lock, [&] { return m_ready.count(m_nextItem) || m_failure || m_liveWorkers == 0; });
    if (m_failure) std::rethrow_exception(m_failure);
    const auto found = m_ready.find(m_nextItem);
    TAUTRAIN_CHECK(found != m_ready.end(), Error, "every task ended, but none made item ", m_nextItem);
    T item = std::move(found->second);
    m_ready.erase(found);
    ++m_nextItem;
    lock.unlock();
    m_changed.notify_all();
    return item;
  }

 private:
  bool emit(std::int64_t item, const std::function<T()>& make) {
    {
      std::unique_lock lock(m_mutex);
      m_changed.wait(lock, [&] { return m_stopping || item < m_nextItem + m_plan.items_ahead; });
      if (m_stopping) return false;
    }
    T made = make();
    {
      std::lock_guard lock(m_mutex);
      m_ready.emplace(item, std::move(made));
    }
    m_changed.notify_all();
    return true;
  }

  /// The consumer's task; past the last item, none (every task is then done).
  std::int64_t consumerTask() const {
    return m_nextItem < m_plan.end_item ? m_plan.task_of(m_nextItem) : m_plan.end_task;
  }

  void work(int worker) {
    const Emit emitter = [this](std::int64_t item, const std::function<T()>& make) { return emit(item, make); };
    try {
      for (;;) {
        std::int64_t task;
        {
          std::unique_lock lock(m_mutex);
          m_changed.wait(lock, [&] {
            return m_stopping || m_nextTask >= m_plan.end_task || m_nextTask < consumerTask() + m_plan.tasks_ahead;
          });
          if (m_stopping || m_nextTask >= m_plan.end_task) break;
          task = m_nextTask++;
        }
        m_task(worker, task, emitter);
      }
    } catch (...) {
      std::lock_guard lock(m_mutex);
      if (!m_failure) m_failure = std::current_exception();
      m_stopping = true;
    }
    {
      std::lock_guard lock(m_mutex);
      --m_liveWorkers;
    }
    m_changed.notify_all();
  }

  const PipelinePlan m_plan;
  const Task m_task;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::map<std::int64_t, T> m_ready;
  std::int64_t m_nextItem;
  std::int64_t m_nextTask;
  bool m_stopping = false;
  int m_liveWorkers = 0;
  std::exception_ptr m_failure;
  std::vector<std::thread> m_workers;
};

}  // namespace tautrain
