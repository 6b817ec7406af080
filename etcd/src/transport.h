#pragma once
// POSTs to the gateway with fail-over across endpoints: the one place that
// talks HTTP (libcurl). Private to the library.

#include <curl/curl.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/config.h"

namespace etcd {

// Whether a request may be sent again after it may have reached a server.
enum class Retry {
  kAlways,     // reads, and writes whose repetition changes nothing that matters
  kIfNotSent,  // a txn: only when the request surely never left (connect failed)
};

// The parsed JSON answer and the endpoint that gave it.
struct Reply {
  nlohmann::json body;
  std::string endpoint;
};

// The request headers of a POST; they must outlive its transfer.
using HeaderList = std::unique_ptr<curl_slist, void (*)(curl_slist*)>;

// Sets `h` up to POST the JSON `body` to `url` with the TLS files and
// timeouts of `config`, handing the answer to `write(..., sink)` and curl's
// error text to `errbuf` (CURL_ERROR_SIZE bytes). `body` must outlive the
// transfer. Shared by the request path and the watch stream.
HeaderList prepare_post(CURL* h, const ClientConfig& config, const std::string& url,
                        const std::string& body, curl_write_callback write, void* sink,
                        char* errbuf);

// Initializes libcurl once per process (curl_global_init is not safe to run
// concurrently with other libcurl calls).
void ensure_curl_initialized();

class Transport {
 public:
  // Validates the config (throws Error(kConfig)).
  explicit Transport(ClientConfig config);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // POSTs `body` to `path` (e.g. "/v3/kv/range"), going round the endpoints
  // as config says. Throws Error naming `op`. Safe from many threads at once.
  Reply post(const std::string& op, std::string_view path, const nlohmann::json& body, Retry retry);

  const ClientConfig& config() const { return config_; }

 private:
  CURL* acquire();
  void release(CURL* h);

  ClientConfig config_;
  std::atomic<size_t> preferred_{0};  // the endpoint that answered last
  std::mutex pool_mu_;
  std::vector<CURL*> pool_;  // idle handles: each keeps its connections alive
};

}  // namespace etcd
