#pragma once
// When a run does what: the learning rate as a pure function of the step (so a resumed run
// continues the same curve), and the stop, checkpoint and early-stopping decisions.
#include <cstdint>
#include <functional>

#include "tautrain/config/TrainConfig.hpp"
#include "tautrain/core/Measure.hpp"

namespace tautrain::train {

/// Learning rate for global step `step` (0-based) with `stepsPerEpoch` steps in every epoch:
/// linear warm-up over warmup_steps, then constant, cosine down to min_learning_rate at the
/// end of max_epochs, or exponential with lr_decay per epoch.
double learningRate(const TrainConfig& config, std::int64_t step, std::int64_t stepsPerEpoch);

/// What the ranks of a data-parallel run must act on together: each brings its own view to a
/// step and leaves with the agreed one (any rank's yes is a yes).
struct StepAgreement {
  bool stop_requested = false;  ///< SIGTERM/SIGINT reached a rank
  bool checkpoint_due = false;  ///< rank 0's clock says a timed checkpoint is due
};

/// When a run stops, checkpoints and ends (marian's Scheduler): the training loop asks, this
/// decides from the train.* settings, the clock and the stop signals. In a data-parallel run it
/// decides on what the ranks agreed, so every rank takes the same branch.
class TrainingSchedule {
 public:
  TrainingSchedule(const TrainConfig& config, bool distributed, bool lead);

  /// This rank's view, brought to the next step's agreement.
  StepAgreement localView() const;
  /// After a step, with what the ranks agreed (this rank's own view when it trains alone).
  void stepped(const StepAgreement& agreed);
  /// After the all-reduce at an epoch's end: whether any rank was signalled.
  void signalAgreed(bool signalled) { m_agreed.stop_requested = signalled; }

  /// Stop now, with a checkpoint: a stop signal, or train.stop_after_steps steps taken here.
  bool stopRequested() const;
  /// A checkpoint is due after the step that reached `globalStep`: by steps, or by the clock
  /// (rank 0's, as agreed).
  bool checkpointDue(std::int64_t globalStep) const { return stepDue(globalStep) || m_agreed.checkpoint_due; }
  /// A periodic checkpoint at an epoch's end: by steps, or by rank 0's clock, asked of the ranks
  /// through `anyRank` (a collective call, made only when the steps do not decide).
  bool periodicCheckpointDue(std::int64_t globalStep, const std::function<bool(bool)>& anyRank) const;
  bool exitsAfterCheckpoint() const { return m_config.exit_after_checkpoint; }
  /// A mid-epoch checkpoint was written: the clock's interval starts again.
  void checkpointed() { m_lastCheckpoint = SteadyClock::now(); }
  /// An epoch's checkpoint was written. Under train.exit_after_checkpoint only a checkpoint the
  /// process exits after is kept by the batch system, so the interval keeps counting from there.
  void epochCheckpointed();

  /// Records a validated epoch's loss for early stopping; true when it is the best so far.
  static bool recordValidation(int& bestEpoch, double& bestLoss, int& stalled, int epoch, double validLoss);
  bool patienceRunOut(int stalled) const { return stalled >= m_config.patience; }
  bool lastEpoch(int epoch) const { return epoch >= m_config.max_epochs; }

 private:
  bool stepDue(std::int64_t globalStep) const;
  bool timedCheckpointDue() const;

  const TrainConfig& m_config;
  bool m_distributed, m_lead;
  StepAgreement m_agreed;
  SteadyClock::time_point m_lastCheckpoint = SteadyClock::now();
  std::int64_t m_stepsHere = 0;  ///< by this process, for train.stop_after_steps
};

}  // namespace tautrain::train
