#include "tautrain/core/StopSignals.hpp"

#include <csignal>

namespace tautrain {

namespace {

volatile std::sig_atomic_t g_signal = 0;
struct sigaction g_previousTerm, g_previousInt;

void onStopSignal(int signal) {
  if (g_signal != 0) {  // asked twice: stop now
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  g_signal = signal;
}

}  // namespace

StopSignalGuard::StopSignalGuard() {
  g_signal = 0;
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, &g_previousTerm);
  sigaction(SIGINT, &action, &g_previousInt);
}

StopSignalGuard::~StopSignalGuard() {
  sigaction(SIGTERM, &g_previousTerm, nullptr);
  sigaction(SIGINT, &g_previousInt, nullptr);
}

int StopSignalGuard::stopRequested() { return g_signal; }

}  // namespace tautrain
