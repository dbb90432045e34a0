// process_metrics: the usual process_* metrics of a Prometheus client (CPU seconds, resident and
// virtual memory, start time, open and maximum file descriptors), read from /proc/self at each
// scrape. prometheus-cpp 1.0.1 has no process collector; this is one, Linux only.
#pragma once

#include <memory>

namespace prometheus {
class Collectable;
}

namespace relaymilter {

// A collectable for a prometheus-cpp exposer or registry; a value that cannot be read is left out.
[[nodiscard]] std::shared_ptr<prometheus::Collectable> process_metrics();

}  // namespace relaymilter
