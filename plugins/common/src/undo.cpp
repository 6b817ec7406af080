#include "common/undo.h"

#include <nlw/link.h>

#include <cstdio>
#include <exception>

namespace knet::common {

Undo::~Undo() {
  if (!undo_) return;
  try {
    undo_();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "undo failed: %s\n", e.what());
  }
}

LinkUndo::LinkUndo(nlw::Socket& sock, std::string name)
    : Undo(name.empty() ? std::function<void()>()
                        : std::function<void()>([&sock, name = std::move(name)] {
                            nlw::delete_link_if_exists(sock, name);
                          })) {}

}  // namespace knet::common
