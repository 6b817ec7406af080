#pragma once
// Undo guards: how an ADD that fails half-way leaves nothing behind. Each
// resource gets a guard the moment it is made; the ADD releases them all
// at its end, and any earlier exit runs them in reverse order of creation.

#include <nlw/socket.h>

#include <functional>
#include <string>

namespace knet::common {

// Runs `undo` on destruction unless release() was called. A failing undo
// is reported on stderr and swallowed: the ADD is already failing with its
// own error, which is the one the runtime must see.
class Undo {
 public:
  explicit Undo(std::function<void()> undo) : undo_(std::move(undo)) {}
  ~Undo();
  Undo(const Undo&) = delete;
  Undo& operator=(const Undo&) = delete;
  void release() { undo_ = nullptr; }

 private:
  std::function<void()> undo_;
};

// An Undo that deletes the link named `name` in `sock`'s namespace (if it
// still exists); an empty name arms nothing.
class LinkUndo : public Undo {
 public:
  LinkUndo(nlw::Socket& sock, std::string name);
};

}  // namespace knet::common
