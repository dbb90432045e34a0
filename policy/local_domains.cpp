// local_domains: exact names and parent-domain suffixes in two hash maps to their entry numbers;
// a lookup tries the name, then each of its parent suffixes (".b.c", ".c").
#include "local_domains.hpp"

namespace relaymilter {

void LocalDomains::add(std::string entry) {
    const uint32_t number = added_++;
    Set& set = !entry.empty() && entry.front() == '.' ? parents_ : exact_;
    set.emplace(std::move(entry), number);  // a repeated entry keeps its first number
}

std::optional<uint32_t> LocalDomains::find(std::string_view domain) const {
    if (domain.empty()) return std::nullopt;
    if (auto it = exact_.find(domain); it != exact_.end()) return it->second;
    if (parents_.empty() || domain.front() == '[') return std::nullopt;
    for (size_t dot = domain.find('.'); dot != std::string_view::npos; dot = domain.find('.', dot + 1)) {
        if (auto it = parents_.find(domain.substr(dot)); it != parents_.end()) return it->second;
    }
    return std::nullopt;
}

size_t LocalDomains::bytes() const {
    size_t total = sizeof(*this);
    for (const Set* set : {&exact_, &parents_}) {
        total += set->bucket_count() * sizeof(void*);
        for (const auto& [s, number] : *set) {
            total += sizeof(s) + sizeof(number) + 2 * sizeof(void*) + (s.capacity() > 15 ? s.capacity() : 0);
        }
    }
    return total;
}

}  // namespace relaymilter
