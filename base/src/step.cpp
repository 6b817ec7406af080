#include "base/step.h"

#include <time.h>

namespace knet {

StepSink* g_step_sink = nullptr;
unsigned g_step_depth = 0;

uint64_t monotonic_us() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

void Step::start(const char* name) noexcept {
  name_ = name;
  depth_ = g_step_depth++;
  start_us_ = monotonic_us();
}

void Step::finish() noexcept {
  uint64_t took = monotonic_us() - start_us_;
  g_step_depth = depth_;
  // The sink may have changed (a nested invocation ended): report to the one
  // that saw the step begin only if it is still the installed one.
  if (sink_ == g_step_sink) sink_->step_done(name_, depth_, took);
}

StepSinkScope::StepSinkScope(StepSink* sink) noexcept
    : outer_(g_step_sink), outer_depth_(g_step_depth) {
  g_step_sink = sink;
  g_step_depth = 0;
}

StepSinkScope::~StepSinkScope() {
  g_step_sink = outer_;
  g_step_depth = outer_depth_;
}

}  // namespace knet
