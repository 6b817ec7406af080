#pragma once
// C libraries (libnl, libmnl, libnftnl) call back into knet code while they
// walk messages or attributes. An exception must not unwind through their
// frames: they would skip their own cleanup (buffers, message references)
// and the behaviour is undefined. So a callback runs its body through
// CallbackError::guard, which keeps the exception and returns the library's
// "stop the walk" value; the caller rethrows once the C call has returned.

#include <exception>
#include <utility>

namespace knet {

// The first exception thrown by the bodies of callbacks of one C call.
class CallbackError {
 public:
  // Runs `body` (returning the callback's int result); if it throws, keeps
  // the exception (the first one only) and returns `stop` instead. Once an
  // exception is kept, later bodies are skipped and `stop` is returned.
  template <class F>
  int guard(int stop, F&& body) noexcept {
    if (error_) return stop;
    try {
      return std::forward<F>(body)();
    } catch (...) {
      error_ = std::current_exception();
      return stop;
    }
  }
  // True when a body threw.
  bool failed() const { return error_ != nullptr; }
  // Rethrows the kept exception, if any (and forgets it).
  void rethrow_if_failed() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  std::exception_ptr error_;
};

}  // namespace knet
