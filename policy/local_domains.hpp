// local_domains: the domains whose recipients are delivered here, never relayed.
// "example.com" matches that domain only; ".example.com" matches every subdomain of it
// (not example.com itself); "[192.0.2.25]" matches that address literal.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

namespace relaymilter {

class LocalDomains {
public:
    // `entry` in canonical form (see canonical_domain), with a leading '.' for subdomains.
    void add(std::string entry);
    // `domain` in canonical form, as parse_recipient returns it.
    [[nodiscard]] bool contains(std::string_view domain) const;
    [[nodiscard]] size_t size() const { return exact_.size() + parents_.size(); }
    [[nodiscard]] size_t bytes() const;

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Set = std::unordered_set<std::string, Hash, std::equal_to<>>;
    Set exact_;
    Set parents_;  // kept with their leading '.'
};

}  // namespace relaymilter
