#pragma once
// Timing of a plugin's kernel steps ("create veth", "add address", ...), for
// the debug log. Code at any layer marks a step with a scoped knet::Step; the
// plugin skeleton (libcni) installs a StepSink while it logs at debug. With no
// sink installed, which is the normal case, a Step is one load of a global
// pointer and a branch: no clock is read, nothing is allocated.

#include <cstdint>

namespace knet {

// Receives the steps of the current invocation. `name` is a string literal
// (it outlives the call); `depth` is 0 for a step no other step encloses.
class StepSink {
 public:
  virtual void step_done(const char* name, unsigned depth, uint64_t duration_us) noexcept = 0;

 protected:
  ~StepSink() = default;
};

// The installed sink, or nullptr. Single-threaded use: a plugin invocation.
extern StepSink* g_step_sink;
// The nesting depth of the open steps (maintained only while a sink is installed).
extern unsigned g_step_depth;

// Monotonic clock in microseconds.
uint64_t monotonic_us() noexcept;

// One kernel step: times the scope when a sink is installed and reports it
// to that sink at the end of the scope.
class Step {
 public:
  explicit Step(const char* name) noexcept : sink_(g_step_sink) {
    if (sink_) start(name);
  }
  ~Step() {
    if (sink_) finish();
  }
  Step(const Step&) = delete;
  Step& operator=(const Step&) = delete;

 private:
  void start(const char* name) noexcept;
  void finish() noexcept;

  StepSink* sink_;
  const char* name_ = nullptr;
  unsigned depth_ = 0;
  uint64_t start_us_ = 0;
};

// Installs `sink` for the life of the scope and restores the previous one
// (an IPAM plugin run in-process inside another plugin has its own).
class StepSinkScope {
 public:
  explicit StepSinkScope(StepSink* sink) noexcept;
  ~StepSinkScope();
  StepSinkScope(const StepSinkScope&) = delete;
  StepSinkScope& operator=(const StepSinkScope&) = delete;

 private:
  StepSink* outer_;
  unsigned outer_depth_;
};

}  // namespace knet
