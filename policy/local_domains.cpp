// local_domains: exact names and parent-domain suffixes in two hash sets; a lookup tries the
// name, then each of its parent suffixes (".b.c", ".c").
#include "local_domains.hpp"

namespace relaymilter {

void LocalDomains::add(std::string entry) {
    if (!entry.empty() && entry.front() == '.') {
        parents_.insert(std::move(entry));
    } else {
        exact_.insert(std::move(entry));
    }
}

bool LocalDomains::contains(std::string_view domain) const {
    if (domain.empty()) return false;
    if (exact_.find(domain) != exact_.end()) return true;
    if (parents_.empty() || domain.front() == '[') return false;
    for (size_t dot = domain.find('.'); dot != std::string_view::npos; dot = domain.find('.', dot + 1)) {
        if (parents_.find(domain.substr(dot)) != parents_.end()) return true;
    }
    return false;
}

size_t LocalDomains::bytes() const {
    size_t total = sizeof(*this);
    for (const Set* set : {&exact_, &parents_}) {
        total += set->bucket_count() * sizeof(void*);
        for (const std::string& s : *set) total += sizeof(s) + 2 * sizeof(void*) + (s.capacity() > 15 ? s.capacity() : 0);
    }
    return total;
}

}  // namespace relaymilter
